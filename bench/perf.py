"""Side-by-side crawl benchmark: evidence against wget and an asyncio floor, same machine, same run.

    python bench/perf.py                      # 10,000 URLs over 100 hosts, 5 runs per shape
    python bench/perf.py --urls 2000 --runs 3 # quicker

Needs Debian's nginx with its echo module (``apt-get install nginx-light
libnginx-mod-http-echo``) and wget. Every request goes to 127.0.0.2 ... 127.0.0.N+1 on
this machine. Two shapes are measured: ``zero`` (nginx answers at once: what a URL costs
in CPU) and ``latency`` (every answer waits 100 ms: throughput under per-host politeness).
Contenders run one after another, in an order that rotates each round; each figure is
the median of the rounds. CPU and peak RSS come from the kernel's accounting of each
contender's processes (``wait4``), WARC bytes from the files written, and the counts from
independent readers (FastWARC for records, ``evidence verify`` for evidence's digests).
``evidence x2`` is the same command with ``--processes 2``: its CPU includes its crawl
processes' (``wait4`` counts waited-for children), but ``wait4``'s peak RSS would be the
largest single process of the tree, so its peak RSS is the sum over the tree, sampled
every 25 ms from ``/proc``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

PORT = 18080


@dataclass
class Result:
    urls: int
    wall: float
    cpu: float
    rss_mb: float
    warc_bytes: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.urls / self.wall

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.urls * 1000

    @property
    def bytes_per_url(self) -> float:
        return self.warc_bytes / self.urls


def tree_rss_mb(root: int) -> float:
    """Resident MB of ``root`` and all its descendants, now (0 once it is gone)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue  # it ended meanwhile
    return total / 2**20


class TreeRss:
    """The largest sum of the resident memory of a process tree, sampled every 25 ms.

    ``wait4`` reports the peak of the largest single process of a tree only; a crawl split
    over child processes (``evidence crawl --processes N``) needs the sum of all of them."""

    def __init__(self, root: int) -> None:
        self.root, self.peak = root, 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._done.wait(0.025):
            self.peak = max(self.peak, tree_rss_mb(self.root))

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak


def run_processes(
    commands: list[list[str]], cwd: Path, env: dict[str, str] | None = None, *, tree: bool = False
) -> tuple[float, float, float, list[int]]:
    """Start ``commands`` together; wall seconds, CPU seconds (with their waited-for
    children's), peak RSS MB (summed over processes running at once; with ``tree``, over
    each command's whole process tree, sampled), exit codes."""
    start = time.perf_counter()
    processes = [
        subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for command in commands
    ]
    samplers = [TreeRss(process.pid) for process in processes] if tree else []
    cpu, rss, codes = 0.0, 0.0, []
    for process in processes:
        assert process.stderr is not None
        error = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        codes.append(process.returncode)
        if process.returncode not in (0, 1, 8):  # wget exits 8 for a 404; evidence 1 for news
            sys.stderr.write(error.decode(errors="replace")[-2000:])
        cpu += usage.ru_utime + usage.ru_stime
        rss += usage.ru_maxrss / 1024
    if samplers:
        # The sampled tree sums, or the largest single process if a sample missed its peak.
        rss = max(rss, sum(sampler.stop() for sampler in samplers))
    return time.perf_counter() - start, cpu, rss, codes


def warc_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*.warc*") if path.is_file())


def count_records(folder: Path, wanted: set[str]) -> dict[str, int]:
    """Records per type, read back with FastWARC, and how many cited URLs have a payload record."""
    from fastwarc.warc import ArchiveIterator

    counts: dict[str, int] = {}
    seen: set[str] = set()
    bad = 0
    for path in sorted(folder.rglob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream, parse_http=False):
                kind = record.headers.get("WARC-Type", "?")
                counts[kind] = counts.get(kind, 0) + 1
                if kind in ("response", "revisit"):
                    # WARC/1.0 writers such as wget put the URI in angle brackets
                    uri = record.headers.get("WARC-Target-URI", "").strip("<>")
                    if uri in wanted:
                        seen.add(uri)
                    if not record.verify_block_digest(consume=True):
                        bad += 1
    counts["urls archived"] = len(seen)
    counts["bad block digests"] = bad
    return counts


def evidence_command(
    urls: Path, db: Path, archive: Path, concurrency: int, processes: int = 1, settings: Sequence[str] = ()
) -> list[str]:
    return [
        sys.executable, "-m", "cli", "crawl", str(urls), "--db", str(db), "--archive", str(archive),
        "--allow-private", "-q", "-s", f"CONCURRENT_REQUESTS={concurrency}",
        *(["--processes", str(processes)] if processes > 1 else []),
        *(option for setting in settings for option in ("-s", setting)),
    ]


def evidence_folder(work: Path, processes: int) -> Path:
    return work / ("evidence" if processes == 1 else f"evidence-x{processes}")


def run_evidence(
    work: Path, urls_file: Path, n: int, concurrency: int, recheck: bool, processes: int = 1,
    settings: Sequence[str] = (),
) -> tuple[Result, Result | None]:
    """A first crawl (and a re-check) into a fresh database. With several processes the
    peak RSS is the sampled sum over the command's process tree."""
    out = evidence_folder(work, processes)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    db, archive = out / "evidence.db", out / "archive"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    command = evidence_command(urls_file, db, archive, concurrency, processes, settings)
    tree = processes > 1
    wall, cpu, rss, _ = run_processes([command], HERE.parent, env, tree=tree)
    first = Result(n, wall, cpu, rss, warc_size(archive))
    second = None
    if recheck:
        before = warc_size(archive)
        wall, cpu, rss, _ = run_processes([command], HERE.parent, env, tree=tree)
        second = Result(n, wall, cpu, rss, warc_size(archive) - before)
    return first, second


def check_evidence(work: Path, wanted: set[str], processes: int = 1) -> dict[str, int]:
    out = evidence_folder(work, processes)
    counts = count_records(out / "archive", wanted)
    with sqlite3.connect(out / "evidence.db") as connection:
        counts["capture rows"] = connection.execute("select count(*) from captures").fetchone()[0]
        counts["record rows"] = connection.execute("select count(*) from records").fetchone()[0]
    verify = subprocess.run(
        [sys.executable, "-m", "cli", "verify", "--db", str(out / "evidence.db"), "--archive", str(out / "archive"), "--json"],
        cwd=HERE.parent, capture_output=True, text=True, check=False,
    )
    counts["verify exit"] = verify.returncode
    try:
        counts["digests verified"] = int(json.loads(verify.stdout).get("records", -1))
    except (ValueError, AttributeError):
        counts["digests verified"] = -1
    return counts


def run_wget(work: Path, urls: list[str], processes: int) -> Result:
    out = work / f"wget{processes}"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    commands = []
    for number in range(processes):
        shard = out / f"urls-{number}.txt"
        shard.write_text("\n".join(urls[number::processes]) + "\n")
        commands.append([
            "wget", "-q", "--tries=1", "--timeout=30", f"--warc-file={out}/part-{number}", "--no-warc-keep-log",
            "-i", str(shard), "-O", "/dev/null",
        ])
    wall, cpu, rss, _ = run_processes(commands, out)
    return Result(len(urls), wall, cpu, rss, warc_size(out))


def run_floor(work: Path, urls_file: Path, n: int, concurrency: int) -> Result:
    out = work / "floor"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    command = [sys.executable, str(HERE / "floor.py"), str(urls_file), str(out / "floor.warc.gz"),
               "--concurrency", str(concurrency), "--per-host", "2"]
    wall, cpu, rss, _ = run_processes([command], out)
    return Result(n, wall, cpu, rss, warc_size(out))


def median(results: list[Result]) -> Result:
    return Result(
        results[0].urls,
        statistics.median(r.wall for r in results),
        statistics.median(r.cpu for r in results),
        statistics.median(r.rss_mb for r in results),
        int(statistics.median(r.warc_bytes for r in results)),
        results[-1].counts,
    )


def header(options: argparse.Namespace) -> None:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    wget = subprocess.run(["wget", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("evidence", "scrapy", "warcio", "sqlalchemy"))
    print(f"machine: {platform.node()}, {cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.platform()}")
    print(f"python {platform.python_version()}; {versions}; {wget}; {nginx}")
    print(f"corpus: {options.urls} URLs over {options.hosts} hosts; concurrency {options.concurrency} "
          f"(2 per host); wget x{options.concurrency} = {options.concurrency} wget processes; "
          f"median of {options.runs} rounds, order rotating")


def show_row(name: str, result: Result) -> str:
    return (f"  {name:<22} {result.rate:9.1f} {result.cpu_ms:8.2f} {result.rss_mb:9.1f} "
            f"{result.bytes_per_url / 1024:9.2f} {result.wall:8.1f}")


def verdict(label: str, value: float, target: float, *, at_least: bool) -> str:
    met = value >= target if at_least else value <= target
    if met:
        return f"  {label}: {value:.2f} (target {'>=' if at_least else '<='} {target}): met"
    off = target / value if at_least else value / target
    return f"  {label}: {value:.2f} (target {'>=' if at_least else '<='} {target}): MISSED by {off:.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--urls", type=int, default=10000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--shapes", default="zero,latency")
    parser.add_argument("--wget-sample", type=int, default=400,
                        help="URLs one wget process fetches in the latency shape (10,000 would take 20 minutes a round)")
    parser.add_argument("--workdir", type=Path, default=None)
    options = parser.parse_args()
    corpus.require_nginx()
    header(options)
    work = options.workdir or Path(tempfile.mkdtemp(prefix="evidence-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    built = corpus.build(work / "site", options.hosts, options.urls // options.hosts, PORT)
    urls = built.urls
    urls_file = work / "urls.txt"
    urls_file.write_text("\n".join(urls) + "\n")
    wanted = set(urls)
    print(f"corpus: {built.bytes_total / 2**20:.0f} MiB on disk in {work}\n")

    summary: dict[str, dict[str, Result]] = {}
    raw: dict[str, dict[str, list[dict[str, object]]]] = {}
    for shape in options.shapes.split(","):
        latency = options.latency_ms if shape == "latency" else 0
        sample = urls if shape == "zero" else urls[: options.wget_sample]
        sample_file = work / "sample.txt"
        sample_file.write_text("\n".join(sample) + "\n")
        contenders = ["evidence", "evidence x2", "floor", f"wget x{options.concurrency}", "wget x1"]
        rounds: dict[str, list[Result]] = {name: [] for name in [*contenders, "evidence re-check", "evidence x2 re-check"]}
        with corpus.Nginx(work / "site", work / f"nginx-{shape}", options.hosts, PORT, latency):
            for number in range(options.runs):
                order = contenders[number % len(contenders):] + contenders[: number % len(contenders)]
                for name in order:
                    if name in ("evidence", "evidence x2"):
                        processes = 2 if name == "evidence x2" else 1
                        first, second = run_evidence(work, urls_file, len(urls), options.concurrency, True, processes)
                        rounds[name].append(first)
                        assert second is not None
                        rounds[f"{name} re-check"].append(second)
                    elif name == "floor":
                        rounds[name].append(run_floor(work, urls_file, len(urls), options.concurrency))
                    elif name == "wget x1":
                        rounds[name].append(run_wget(work, sample, 1))
                    else:
                        rounds[name].append(run_wget(work, urls, options.concurrency))
                    print(f"  [{shape}] round {number + 1}: {name} {rounds[name][-1].wall:.1f} s", file=sys.stderr)
            rounds["evidence"][-1].counts = check_evidence(work, wanted)
            rounds["evidence x2"][-1].counts = check_evidence(work, wanted, processes=2)
            rounds["floor"][-1].counts = count_records(work / "floor", wanted)
            rounds[f"wget x{options.concurrency}"][-1].counts = count_records(work / f"wget{options.concurrency}", wanted)
        raw[shape] = {name: [vars(r) for r in results] for name, results in rounds.items()}
        (work / "results.json").write_text(json.dumps(raw, indent=1, default=str))
        medians = {name: median(results) for name, results in rounds.items()}
        # * peak RSS of a contender's processes, summed over those that run at once
        summary[shape] = medians
        print(f"shape {shape} (server latency {latency} ms), medians of {options.runs}:")
        print(f"  {'contender':<22} {'URLs/s':>9} {'CPU ms/URL':>8} {'peak MB*':>9} {'WARC KB/URL':>9} {'wall s':>8}")
        for name, result in medians.items():
            print(show_row(name if name != "wget x1" or shape == "zero" else f"wget x1 ({len(sample)} URLs)", result))
        ev = medians["evidence"]
        print("  ratios (evidence / peer):")
        for peer in ("floor", f"wget x{options.concurrency}", "wget x1"):
            other = medians[peer]
            print(f"    vs {peer:<12} URLs/s {ev.rate / other.rate:6.2f}x   CPU per URL {ev.cpu_ms / other.cpu_ms:6.2f}x   "
                  f"peak RSS {ev.rss_mb / other.rss_mb:6.2f}x   WARC bytes {ev.bytes_per_url / other.bytes_per_url:6.2f}x")
        recheck = medians["evidence re-check"]
        print(f"    re-check / first crawl: URLs/s {recheck.rate / ev.rate:.2f}x, new WARC {recheck.bytes_per_url:.0f} B/URL")
        x2, x2_recheck = medians["evidence x2"], medians["evidence x2 re-check"]
        print(f"    evidence x2 / evidence: URLs/s {x2.rate / ev.rate:.2f}x, CPU per URL {x2.cpu_ms / ev.cpu_ms:.2f}x, "
              f"peak RSS {x2.rss_mb / ev.rss_mb:.2f}x; re-check URLs/s {x2_recheck.rate / recheck.rate:.2f}x")
        print("  * peak MB of wget xN is the sum over its N processes; of evidence x2 the largest sum over its")
        print("    process tree (the command and its 2 crawl processes), sampled every 25 ms from /proc")
        print("  correctness (last round; evidence's counts cover the first crawl and the re-check):")
        for name in ("evidence", "evidence x2", "floor", f"wget x{options.concurrency}"):
            print(f"    {name:<12} " + ", ".join(f"{key} {value}" for key, value in medians[name].counts.items()))
        print()

    print(f"every round's figures: {work / 'results.json'}\n")
    print("targets:")
    if "latency" in summary:
        medians = summary["latency"]
        ev = medians["evidence"]
        print(verdict("latency shape, evidence / one wget (URLs/s)", ev.rate / medians["wget x1"].rate, 20, at_least=True))
        print(verdict("latency shape, evidence / asyncio floor (URLs/s)", ev.rate / medians["floor"].rate, 0.8, at_least=True))
        print(verdict("latency shape, evidence x2 / asyncio floor (URLs/s)", medians["evidence x2"].rate / medians["floor"].rate,
                      0.8, at_least=True))
        recheck = medians["evidence re-check"]
        print(verdict("latency shape, re-check / first crawl (URLs/s)", recheck.rate / ev.rate, 1.2, at_least=True))
        # A 304 waits out the server's latency like a 200: with N requests in flight no
        # crawl passes N / latency, and the closer the first crawl gets to that, the less
        # room a re-check has to be faster.
        ceiling = options.concurrency / (options.latency_ms / 1000) if options.latency_ms else 0
        if ceiling:
            print(f"    ceiling at {options.concurrency} in flight and {options.latency_ms} ms: {ceiling:.0f} URLs/s; "
                  f"first crawl at {ev.rate / ceiling:.2f} of it, re-check at {recheck.rate / ceiling:.2f}, "
                  f"floor at {medians['floor'].rate / ceiling:.2f}; 1.2x the first crawl is "
                  f"{1.2 * ev.rate / ceiling:.2f} of the ceiling")
            if 1.2 * ev.rate >= ceiling:
                print("    (out of reach at this concurrency: no re-check can pass the ceiling)")
    if "zero" in summary:
        medians = summary["zero"]
        ev = medians["evidence"]
        print(verdict("zero latency, evidence CPU ms per URL", ev.cpu_ms, 2.0, at_least=False))
        print(verdict("zero latency, re-check / first crawl (URLs/s)", medians["evidence re-check"].rate / ev.rate, 1.2,
                      at_least=True))
        print(verdict("zero latency, re-check new WARC KB per URL", medians["evidence re-check"].bytes_per_url / 1024, 1.5, at_least=False))
        print(verdict("evidence peak RSS MB", ev.rss_mb, 150, at_least=False))
        print(verdict("evidence x2 peak RSS MB (process tree)", medians["evidence x2"].rss_mb, 150, at_least=False))


if __name__ == "__main__":
    main()
