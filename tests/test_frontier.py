"""Several workers over one Redis frontier and one PostgreSQL database, all real servers:
a coordinator (`evidence crawl --frontier`) and worker processes (`evidence worker`)
crawl the scripted site; one worker is killed with SIGKILL in the middle of a run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis
from warcio.archiveiterator import ArchiveIterator

from crawler.scaleout.frontier.state import worker_id
from tests.conftest import FAST, ROOT, Workspace
from tests.mockserver import MockServer
from tests.servers import PostgresServer, RedisServer

HOST_DELAY = 0.3
# Quick heartbeats and short leases, so that a dead worker is noticed within seconds.
WORKER_FAST = ["-s", "EVIDENCE_FRONTIER_HEARTBEAT=0.2", "-s", "EVIDENCE_FRONTIER_LEASE=1.5", "-s", "EVIDENCE_FRONTIER_PREFETCH=2"]
CITED = ["/plan", "/avance", "/nota", "/nota.pdf", "/status/404", "/dir"] + [f"/aspx/pagina{i}" for i in range(8)]


def _as_background_job() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Cluster:
    """A coordinator and its workers, each a real `python cli.py` process."""

    def __init__(self, workspace: Workspace, frontier: str) -> None:
        self.workspace = workspace
        self.frontier = frontier
        self.env = workspace.env(EVIDENCE_FRONTIER=frontier)

    def start(self, *args: str) -> subprocess.Popen[str]:
        # Started as a shell starts a background job (`evidence crawl --frontier … &`), with
        # SIGINT ignored: Ctrl-C or kill -INT must still stop a coordinator and its workers.
        return subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), *args],
            cwd=self.workspace.path, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=_as_background_job,
        )

    def coordinator(self, document: Path, *extra: str) -> subprocess.Popen[str]:
        return self.start("crawl", str(document), *FAST, "-s", f"EVIDENCE_FRONTIER_HOST_DELAY={HOST_DELAY}", *extra)

    def worker(self, name: str) -> subprocess.Popen[str]:
        return self.start("worker", "--worker-id", name, *WORKER_FAST)


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{proc.args} did not end in {timeout} s: {out}{err}")
    return proc.returncode, out, err


def pg_rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as connection:
        return [tuple(row) for row in connection.execute(query).fetchall()]


def cite(site: MockServer, paths: list[str], path: Path) -> Path:
    path.write_text("# Informe\n\n" + "".join(f"{n} Disponible en <{site.url(p)}>\n" for n, p in enumerate(paths, 1)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer, redis_server: RedisServer):
    workspace = Workspace(tmp_path_factory.mktemp("frontier"), db_url=postgres.create_database())
    cluster = Cluster(workspace, redis_server.url(1))
    with MockServer() as site:
        document = cite(site, CITED, workspace.path / "informe.md")
        coordinator = cluster.coordinator(document)
        workers = {name: cluster.worker(name) for name in ("wa", "wb")}
        result = finish(coordinator)
        worker_results = {name: finish(proc, timeout=30) for name, proc in workers.items()}
        yield {
            "workspace": workspace,
            "site": site,
            "coordinator": result,
            "workers": worker_results,
            "hits": site.hits(),
            "log": site.log(),
            "redis": redis.Redis.from_url(cluster.frontier),
        }


def test_the_coordinator_reports_the_run_like_a_local_crawl(two_workers):
    code, out, err = two_workers["coordinator"]
    site = two_workers["site"]
    assert code == 1, out + err  # a citation gone on the first run is news
    assert out.splitlines()[0] == f"run 1 finished: {len(CITED)} URLs checked (1 gone, {len(CITED) - 1} ok)"
    assert f"gone        http_404         {site.url('/status/404')}" in out


def test_both_workers_worked_and_left_when_the_run_was_done(two_workers):
    recorded = {}
    for name, (code, out, err) in two_workers["workers"].items():
        assert code == 0, out + err
        prefix = f"worker {name}: run 1 finished, "
        assert out.startswith(prefix), out
        recorded[name] = int(out[len(prefix):].split()[0])
    assert sum(recorded.values()) == len(CITED)
    assert all(count > 0 for count in recorded.values()), recorded


def test_every_url_is_fetched_exactly_once(two_workers):
    hits = two_workers["hits"]
    for path in CITED:
        assert hits.get(path) == 1, (path, hits)
    assert hits.get("/dir/") == 1, "the redirect hop is fetched once, by the worker that holds /dir"
    workspace = two_workers["workspace"]
    per_target = pg_rows(workspace.db_url, "SELECT target_id, COUNT(*) FROM captures WHERE run_id = 1 GROUP BY target_id")
    assert len(per_target) == len(CITED) and {count for _, count in per_target} == {1}


def test_the_frontier_says_the_run_is_over(two_workers):
    client = two_workers["redis"]
    assert client.get("evidence:run:1:state") == b"finished"
    assert client.scard("evidence:run:1:done") == len(CITED)
    assert client.hlen("evidence:run:1:inflight") == 0 and client.llen("evidence:run:1:queue") == 0
    assert client.scard("evidence:run:1:dupefilter") == len(CITED)
    assert 0 < client.ttl("evidence:run:1:done") <= 24 * 3600, "a finished run's keys expire"


def test_each_worker_writes_its_own_files_and_every_record_is_in_the_database(two_workers):
    workspace = two_workers["workspace"]
    files = workspace.warc_files()
    assert sorted(f.name.split("-")[1] for f in files) == ["wa", "wb"]
    assert all(f.name.startswith(("evidence-wa-", "evidence-wb-")) and f.name.endswith(".warc.gz") for f in files)
    in_files = set()
    for path in files:
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle, check_digests="raise"):
                record.content_stream().read()
                if record.rec_type != "warcinfo":
                    in_files.add(record.rec_headers.get_header("WARC-Record-ID"))
    rows = pg_rows(workspace.db_url, 'SELECT record_id, filename, "offset" FROM records')
    assert {record_id for record_id, _, _ in rows} == in_files, "every record is reachable from the database"
    for record_id, filename, offset in rows[:20]:
        with open(workspace.archive / filename, "rb") as handle:
            handle.seek(offset)
            assert next(iter(ArchiveIterator(handle))).rec_headers.get_header("WARC-Record-ID") == record_id
    closed = pg_rows(workspace.db_url, "SELECT name FROM warc_files ORDER BY name")
    assert [name for (name,) in closed] == [f.name for f in files]


def test_verify_passes_over_all_workers_files(two_workers):
    result = two_workers["workspace"].run("verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("2 closed files: all intact")


def test_one_host_sees_the_delay_across_both_workers(two_workers):
    times = sorted(when for when, path in two_workers["log"] if not path.startswith("/_control"))
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert len(times) > len(CITED)
    # Each request waits for the host's slot in Redis; the server's clock sees arrival
    # times, a few milliseconds of jitter around the sending times on a quiet machine, and
    # up to a tenth of a second on one loaded by the rest of the suite (a request sent late
    # arrives close to the next, sent on time). Workers that did not share the delay would
    # send side by side: gaps near nothing, half of them or more.
    assert min(gaps) >= HOST_DELAY / 2, sorted(gaps)[:5]
    assert sorted(gaps)[len(gaps) // 2] >= HOST_DELAY - 0.02, sorted(gaps)
    assert times[-1] - times[0] >= (len(times) - 1) * (HOST_DELAY - 0.02)


def test_a_killed_workers_urls_are_completed_by_the_other(tmp_path, postgres: PostgresServer, redis_server: RedisServer):
    workspace = Workspace(tmp_path, db_url=postgres.create_database())
    cluster = Cluster(workspace, redis_server.url(2))
    client = redis.Redis.from_url(cluster.frontier)
    # The first URL is done early and the others take long (within the 2 s timeout): the
    # URLs the worker holds when the first is done are still seconds from done when it is
    # killed. With equal delays, one could be recorded between the look and the kill.
    slow = ["/slow?s=0.2&n=0"] + [f"/slow?s=1.8&n={n}" for n in range(1, 6)]
    with MockServer() as site:
        coordinator = cluster.coordinator(cite(site, slow, tmp_path / "informe.md"))
        doomed = cluster.worker("doomed")
        held: dict[bytes, bytes] = {}
        deadline = time.monotonic() + 60
        # Kill it while it is inside downloads it holds leases for.
        while time.monotonic() < deadline and not held:
            time.sleep(0.1)
            # Both read in one transaction: read one after the other, the first URL could
            # be seen in flight and then done, and count as held by the worker about to die.
            pipe = client.pipeline(transaction=True)
            pipe.hgetall("evidence:run:1:inflight")
            pipe.smembers("evidence:run:1:done")
            inflight, done = pipe.execute()
            if inflight and done:
                held = {url: who for url, who in inflight.items() if who == b"doomed" and url not in done}
        assert held, "the worker never held a URL"
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait()
        assert client.scard("evidence:run:1:done") < len(slow)
        survivor = cluster.worker("survivor")
        code, out, err = finish(coordinator)
        survivor_code, survivor_out, survivor_err = finish(survivor, timeout=30)
    assert code == 0, out + err
    assert out.splitlines()[0] == f"run 1 finished: {len(slow)} URLs checked ({len(slow)} ok)"
    assert survivor_code == 0, survivor_out + survivor_err
    rows = pg_rows(
        workspace.db_url,
        "SELECT t.url, COUNT(*), MIN(c.warc_filename) FROM captures c JOIN targets t ON t.id = c.target_id "
        "WHERE c.run_id = 1 GROUP BY t.url",
    )
    assert len(rows) == len(slow) and all(count == 1 for _, count, _ in rows)
    by_url = {url: filename for url, _, filename in rows}
    for url in held:
        assert by_url[url.decode()].startswith("evidence-survivor-"), (url, by_url)
    # The survivor closed the dead worker's WARC file when it started; everything verifies.
    assert not list(workspace.archive.glob("*.open"))
    verified = workspace.run("verify", "--json")
    assert verified.returncode == 0, verified.stdout
    assert json.loads(verified.stdout)["intact"] is True


REFUSE = """
CREATE FUNCTION refuse_capture() RETURNS trigger AS $$
BEGIN
  IF (SELECT url FROM targets WHERE id = NEW.target_id) LIKE '%/refused' THEN
    RAISE EXCEPTION 'this capture is refused by the test';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER refuse BEFORE INSERT ON captures FOR EACH ROW EXECUTE FUNCTION refuse_capture();
"""


def test_a_url_that_cannot_be_recorded_is_retried_then_given_up(tmp_path, postgres: PostgresServer, redis_server: RedisServer):
    workspace = Workspace(tmp_path, db_url=postgres.create_database())
    assert workspace.run("db", "upgrade").returncode == 0
    with psycopg.connect(workspace.db_url, autocommit=True) as connection:
        connection.execute(REFUSE)
    cluster = Cluster(workspace, redis_server.url(3))
    with MockServer() as site:
        coordinator = cluster.coordinator(cite(site, ["/plan", "/refused", "/avance"], tmp_path / "informe.md"))
        worker = cluster.worker("only")
        code, out, err = finish(coordinator)
        worker_code, worker_out, worker_err = finish(worker, timeout=30)
        hits = site.hits()
    # Not a run that never ends: three tries, then the run is incomplete (exit 3).
    assert code == 3, out + err
    assert out.splitlines()[0] == "run 1 interrupted: 3 URLs checked (2 ok)"
    assert "run 1 is incomplete: 1 of 3 URLs have no capture" in err
    assert hits["/refused"] == 3 and hits["/plan"] == 1
    assert worker_code == 0, worker_out + worker_err
    assert worker_out.startswith("worker only: run 1 finished, 2 URLs recorded")


def test_frontier_mistakes_are_one_line_each(tmp_path, postgres: PostgresServer, redis_server: RedisServer, site: MockServer):
    workspace = Workspace(tmp_path)
    document = cite(site, ["/plan"], tmp_path / "informe.md")
    # Workers share a database server: an SQLite file is refused before anything happens.
    on_sqlite = workspace.run("crawl", str(document), "--frontier", "redis://127.0.0.1:1/0")
    assert on_sqlite.returncode == 2 and "give --db postgresql://" in on_sqlite.stderr
    assert not workspace.db.exists()
    worker_on_sqlite = workspace.run("worker", "--frontier", "redis://127.0.0.1:1/0")
    assert worker_on_sqlite.returncode == 2 and "give --db postgresql://" in worker_on_sqlite.stderr
    # No Redis there: exit 3 with one line, and nothing fetched.
    workspace.db_url = postgres.create_database()
    unreachable = workspace.run("crawl", str(document), "--frontier", "redis://127.0.0.1:1/0")
    assert unreachable.returncode == 3
    assert len(unreachable.stderr.strip().splitlines()) == 1
    assert "cannot reach the frontier redis://127.0.0.1:1/0" in unreachable.stderr
    lonely = workspace.run("worker", "--frontier", "redis://127.0.0.1:1/0", "--wait", "0")
    assert lonely.returncode == 3 and "cannot reach the frontier" in lonely.stderr
    idle = workspace.run("worker", "--frontier", redis_server.url(4), "--wait", "0.5")
    assert idle.returncode == 3
    assert "no running run on the frontier after 0.5 s" in idle.stderr
    assert site.hits() == {}


def test_a_worker_on_another_database_is_turned_away(tmp_path, postgres: PostgresServer, redis_server: RedisServer, site: MockServer):
    workspace = Workspace(tmp_path, db_url=postgres.create_database())
    cluster = Cluster(workspace, redis_server.url(5))
    client = redis.Redis.from_url(cluster.frontier)
    coordinator = cluster.coordinator(cite(site, ["/plan"], tmp_path / "informe.md"))
    deadline = time.monotonic() + 30
    while client.get("evidence:run:1:state") != b"running" and time.monotonic() < deadline:
        time.sleep(0.1)
    other = Workspace(tmp_path, db_url=postgres.create_database())
    assert other.run("db", "upgrade").returncode == 0
    stray = other.run("worker", "--frontier", cluster.frontier, "--wait", "5")
    assert stray.returncode == 3
    assert "is not the one run 1 was created in; give the worker the coordinator's --db" in stray.stderr
    # Ctrl-C on the coordinator stops the run: summed up as interrupted, exit 3.
    coordinator.send_signal(signal.SIGINT)
    code, out, err = finish(coordinator, timeout=30)
    assert code == 3 and out.startswith("run 1 interrupted: 1 URLs checked (none captured)"), out + err
    assert client.get("evidence:run:1:state") == b"stopped"
    assert site.hits() == {}


def test_stopping_the_coordinator_lets_workers_finish_what_they_hold_and_leave(
    tmp_path, postgres: PostgresServer, redis_server: RedisServer
):
    workspace = Workspace(tmp_path, db_url=postgres.create_database())
    cluster = Cluster(workspace, redis_server.url(6))
    client = redis.Redis.from_url(cluster.frontier)
    slow = [f"/slow?s=1&n={n}" for n in range(8)]
    with MockServer() as site:
        # No soft-404 probes: every request the site sees is then one cited URL.
        coordinator = cluster.coordinator(cite(site, slow, tmp_path / "informe.md"), "-s", "EVIDENCE_PROBE_ENABLED=False")
        worker = cluster.worker("one")
        deadline = time.monotonic() + 60
        while client.scard("evidence:run:1:done") < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        coordinator.send_signal(signal.SIGINT)
        code, out, err = finish(coordinator, timeout=30)
        worker_code, worker_out, worker_err = finish(worker, timeout=30)
        fetched = site.hits().get("/slow", 0)
    assert code == 3, out + err
    assert out.startswith("run 1 interrupted: 8 URLs checked"), out
    assert worker_code == 0, worker_out + worker_err
    assert worker_out.startswith("worker one: run 1 stopped, ")
    recorded = int(worker_out.split(", ")[1].split()[0])
    # What it held was finished and recorded; nothing more was taken.
    assert 1 <= recorded < len(slow) and fetched == recorded
    assert client.llen("evidence:run:1:queue") == len(slow) - recorded
    rows = pg_rows(workspace.db_url, "SELECT COUNT(*) FROM captures WHERE run_id = 1")
    assert rows == [(recorded,)]


def test_the_coordinator_can_start_local_workers(tmp_path, postgres: PostgresServer, redis_server: RedisServer, site: MockServer):
    workspace = Workspace(tmp_path, db_url=postgres.create_database())
    cluster = Cluster(workspace, redis_server.url(7))
    pages = ["/plan", "/avance", "/nota", "/nota.pdf"]
    coordinator = cluster.coordinator(cite(site, pages, tmp_path / "informe.md"), "--workers", "2", "-s", "EVIDENCE_FRONTIER_PREFETCH=1")
    code, out, err = finish(coordinator)
    assert code == 0, out + err
    assert out.splitlines()[0] == "run 1 finished: 4 URLs checked (4 ok)"
    assert err == ""
    names = [f.name for f in workspace.warc_files()]
    expected = {worker_id(f"{socket.gethostname()}_{coordinator.pid}_{n}") for n in (1, 2)}
    assert names and {name.split("-")[1] for name in names} <= expected, (names, expected)
    assert all(name.endswith(".warc.gz") for name in names), "the workers closed their files before the coordinator returned"
    assert {path: count for path, count in site.hits().items() if path in pages} == dict.fromkeys(pages, 1)


def test_workers_finish_the_run_when_the_coordinator_died(tmp_path, postgres: PostgresServer, redis_server: RedisServer, site: MockServer):
    workspace = Workspace(tmp_path, db_url=postgres.create_database())
    cluster = Cluster(workspace, redis_server.url(8))
    client = redis.Redis.from_url(cluster.frontier)
    pages = ["/plan", "/avance", "/nota"]
    coordinator = cluster.coordinator(cite(site, pages, tmp_path / "informe.md"))
    deadline = time.monotonic() + 30
    while client.get("evidence:run:1:state") != b"running" and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(coordinator.pid, signal.SIGKILL)
    coordinator.wait()
    code, out, err = finish(cluster.worker("orphan"), timeout=60)
    assert code == 0, out + err
    assert out.startswith("worker orphan: run 1 finished, 3 URLs recorded"), out
    assert pg_rows(workspace.db_url, "SELECT COUNT(*) FROM captures WHERE run_id = 1") == [(3,)]


def test_a_url_fetched_by_two_workers_is_counted_once(tmp_path, postgres: PostgresServer, redis_server: RedisServer, site: MockServer):
    workspace = Workspace(tmp_path, db_url=postgres.create_database())
    cluster = Cluster(workspace, redis_server.url(9))
    pages = [f"/slow?s=0.8&n={n}" for n in range(4)]
    coordinator = cluster.coordinator(cite(site, pages, tmp_path / "informe.md"), "-s", "EVIDENCE_PROBE_ENABLED=False")
    # Leases shorter than the heartbeat: live workers look dead most of the time, and
    # their URLs are handed out again while they are still fetching them.
    hasty = ["-s", "EVIDENCE_FRONTIER_HEARTBEAT=1", "-s", "EVIDENCE_FRONTIER_LEASE=0.2", "-s", "EVIDENCE_FRONTIER_PREFETCH=2"]
    workers = [cluster.start("worker", "--worker-id", name, *hasty) for name in ("wa", "wb")]
    code, out, err = finish(coordinator)
    results = [finish(worker, timeout=30) for worker in workers]
    assert code == 0, out + err
    assert out.splitlines()[0] == "run 1 finished: 4 URLs checked (4 ok)"
    assert site.hits()["/slow"] > len(pages), "no URL was fetched twice: the test did not test anything"
    assert pg_rows(workspace.db_url, "SELECT COUNT(*), COUNT(DISTINCT target_id) FROM captures WHERE run_id = 1") == [(4, 4)]
    recorded = [int(out.split(", ")[1].split()[0]) for _, out, _ in results]
    assert sum(recorded) == len(pages), results
    assert workspace.run("verify").returncode == 0
