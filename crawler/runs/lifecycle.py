"""A run's life, the same for every way of crawling: the local crawl
(``crawler.runs.local``), ``--processes`` (``crawler.scaleout.processes``) and the shared frontier
(``crawler.scaleout.frontier``) all start, recover, record and finish runs through here.

- ``crawl_settings`` and ``worker_settings``: a crawl's settings from what a person gave
  (options and ``NAME=VALUE`` overrides, each checked by ``check_setting``), with the
  notifier's (the SMTP password) split off;
- ``build_settings`` and ``recorded_settings``: a crawl's Scrapy settings, and the part of
  them kept with the run for later readers;
- ``recover``: runs whose process died are marked interrupted, WARC files they left open
  are cut after their last whole record and closed;
- ``start_run``, ``finish_run`` (the run's ``RunSummary``: states, news, acknowledged
  news) and ``fail_run``;
- ``known_digests`` and ``originals``: what a crawl starts from (the last good payload
  of each URL, to skip needless probes; the last complete response, for revisit records
  and conditional requests).

``RunSummary.as_dict`` is the one machine-readable shape of a run's outcome: the CLI's
``--json`` and the webhook's payload both use it.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.settings import Settings
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crawler import __version__
from crawler import settings as default_settings
from crawler.claims.store import fallen, run_claims
from crawler.exceptions import SettingError
from crawler.reports.queries import document_label
from crawler.runs.liveness import process_alive
from crawler.store.acks import is_acknowledged
from crawler.store.mementos import found_mementos, memento_news
from crawler.store.models import Capture, Citation, Document, Record, Run, Target, WarcFile, utcnow
from crawler.verdicts import news_kind
from crawler.warc.dedup import Original
from crawler.warc.recover import recover_open_files

if TYPE_CHECKING:
    from crawler.timestamps.stamping import Stamping


@dataclass(frozen=True)
class News:
    url: str
    #: changed, moved, gone, restored or unreachable (newly: it answered last run)
    kind: str
    state: str
    reason: str
    previous_state: str | None
    #: (document, footnote) of each citation of the URL
    cited_in: tuple[tuple[str, str], ...] = ()
    #: for a gone URL, the web archive's copy of its cited date (the evidence left) and
    #: when the archive made it; None where no memento was found
    memento_url: str | None = None
    memento_datetime: str | None = None
    #: what the URL's pinned passages say on this capture (crawler/claims/store.py
    #: ``Claims.verdict``): ``hold``, ``lost``, ``mixed``; None for a URL without pins checked
    claims: str | None = None
    #: the pins that fell on this capture (kind ``claim_lost``): pin, quote, was, now,
    #: score, found (partial) or nearest (lost), differences
    fell: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "kind": self.kind,
            "state": self.state,
            "reason": self.reason,
            "previous_state": self.previous_state,
            "cited_in": [{"document": document, "footnote": footnote} for document, footnote in self.cited_in],
            "memento_url": self.memento_url,
            "memento_datetime": self.memento_datetime,
            "claims": self.claims,
            "pins": list(self.fell),
        }


@dataclass
class RunSummary:
    run_id: int
    status: str
    targets: int
    captured: int
    states: Counter[str] = field(default_factory=Counter)
    news: list[News] = field(default_factory=list)
    #: news that only repeats what a person acknowledged (``evidence ack``): not reported
    acknowledged: list[News] = field(default_factory=list)
    #: why the run is incomplete beyond missing captures: a crawl process (``--processes``)
    #: that died, one line each
    problems: list[str] = field(default_factory=list)
    #: pages that changed but whose pinned passages all hold: not news unless asked for
    #: (``include_held``, the CLI's ``--news all``)
    held: list[News] = field(default_factory=list)
    #: the time-stamps asked for the WARC files the run closed (``stamp_closed_files``);
    #: None without a TSA set
    stamping: Stamping | None = None

    def include_held(self) -> None:
        """Count changed pages whose pins all hold as news too (``crawl --news all``)."""
        self.news.extend(self.held)
        self.held = []

    @property
    def missing(self) -> int:
        return self.targets - self.captured

    def as_dict(self) -> dict[str, Any]:
        """The run's outcome for machines: ``evidence crawl --json`` and webhooks."""
        return {
            "run": self.run_id,
            "status": self.status,
            "urls": self.targets,
            "captured": self.captured,
            "states": dict(self.states),
            "news": [item.as_dict() for item in self.news],
            "acknowledged": [item.as_dict() for item in self.acknowledged],
            "held": [item.as_dict() for item in self.held],
            "problems": list(self.problems),
        }

    @property
    def evidence_news(self) -> bool:
        """News that earns exit code 1: all but newly unreachable URLs (down is not gone)."""
        return any(item.kind != "unreachable" for item in self.news)


#: Settings of the notifiers: kept out of the crawl and its log (they hold the SMTP password).
NOTIFY_PREFIXES = ("EVIDENCE_SMTP_", "EVIDENCE_NOTIFY_")


@dataclass(frozen=True)
class CrawlSettings:
    """What a crawl is run with, assembled by ``crawl_settings``."""

    #: the crawl's settings, for ``run_crawl`` or ``run_coordinated``
    crawl: dict[str, Any]
    #: the notifiers' settings, for ``crawler.notify.notify``
    notify: dict[str, Any]
    #: crawl processes asked for (``EVIDENCE_PROCESSES``), checked to be a whole number
    processes: int


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """``NAME=VALUE`` items as settings, each value checked by ``check_setting``; a later
    item of the same name wins."""
    settings: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SettingError(f"{item!r} is not NAME=VALUE", override=item)
        check_setting(name, value, override=item)
        settings[name] = value
    return settings


def _compression(value: Any) -> str | None:
    from crawler.warc.writer import COMPRESSIONS

    return None if value in COMPRESSIONS else f"EVIDENCE_WARC_COMPRESSION={value!r}: use one of {', '.join(COMPRESSIONS)}"


def _processes(value: Any) -> str | None:
    try:
        int(value)
    except (TypeError, ValueError):
        return f"EVIDENCE_PROCESSES={value!r} is not a whole number"
    return None


# Settings whose wrong value would only fail deep inside a crawl (a WARC writer, the
# process split) after the database and archive were touched: checked on the way in.
# Each check returns what is wrong with a value, or None.
def _archives(value: Any) -> str | None:
    from crawler.store.mementos import archives_from

    try:
        archives_from(value)
    except SettingError as exc:
        return str(exc)
    return None


def _tsa_urls(value: Any) -> str | None:
    from crawler.timestamps.tsa import tsa_urls

    try:
        tsa_urls(value)
    except SettingError as exc:
        return str(exc)
    return None


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "EVIDENCE_TSA_URL": _tsa_urls,
    "EVIDENCE_ARCHIVES": _archives,
    "EVIDENCE_WARC_COMPRESSION": _compression,
    "EVIDENCE_PROCESSES": _processes,
}


def check_setting(name: str, value: Any, *, override: str | None = None) -> None:
    """Refuse (``SettingError``) a value the setting ``name`` cannot take."""
    check = _CHECKS.get(name)
    problem = check(value) if check is not None else None
    if problem is not None:
        raise SettingError(problem, override=override)


def crawl_settings(
    *,
    archive: str | Path,
    log_level: str,
    user_agent: str | None = None,
    timeout: float | None = None,
    max_body: int | None = None,
    gone_after: int | None = None,
    obey_robots: bool = False,
    allow_private: bool = False,
    processes: int | None = None,
    progress: bool = True,
    archives: str | None = None,
    browser: str | None = None,
    overrides: Iterable[str] = (),
) -> CrawlSettings:
    """A crawl's settings from its options; ``overrides`` (``NAME=VALUE``) win over the
    options, except that ``progress=False`` (nothing on the terminal) always holds."""
    settings: dict[str, Any] = {"EVIDENCE_ARCHIVE_DIR": str(Path(archive).resolve()), "LOG_LEVEL": log_level}
    if user_agent:
        settings["USER_AGENT"] = user_agent
    if timeout is not None:
        settings["DOWNLOAD_TIMEOUT"] = timeout
    if max_body is not None:
        settings["EVIDENCE_MAX_BODY_SIZE"] = max_body
    if gone_after is not None:
        settings["EVIDENCE_GONE_AFTER"] = gone_after
    if obey_robots:
        settings["ROBOTSTXT_OBEY"] = True
    if allow_private:
        settings["EVIDENCE_ALLOW_PRIVATE"] = True
    if processes is not None:
        settings["EVIDENCE_PROCESSES"] = processes
    if archives is not None:
        # "" turns the lookups off: no archive is asked.
        check_setting("EVIDENCE_ARCHIVES", archives)
        settings["EVIDENCE_ARCHIVES"] = [item.strip() for item in archives.split(",") if item.strip()]
    if browser is not None:
        settings["EVIDENCE_BROWSER"] = browser
    # The executable is the machine's, not the run's: the environment may name it.
    if os.environ.get("EVIDENCE_BROWSER_PATH"):
        settings["EVIDENCE_BROWSER_PATH"] = os.environ["EVIDENCE_BROWSER_PATH"]
    settings.update(parse_overrides(overrides))
    count = process_count(settings)
    # Refused now, not after the crawl: a browser setting it could not run with.
    from crawler.browser.renderer import check_browser_settings

    check_browser_settings({**_browser_defaults(), **settings})
    # Refused now, not after the crawl: a TSA URL or CA file that cannot be used.
    trusted_time(settings)
    if not progress:
        settings["EVIDENCE_PROGRESS_ENABLED"] = False
    notify = {name: settings.pop(name) for name in list(settings) if name.startswith(NOTIFY_PREFIXES)}
    return CrawlSettings(crawl=settings, notify=notify, processes=count)


def _browser_defaults() -> dict[str, Any]:
    return {name: getattr(default_settings, name) for name in dir(default_settings) if name.startswith("EVIDENCE_BROWSER")}


def worker_settings(*, archive: str | Path, log_level: str, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """An ``evidence worker``'s own settings: the rest come from the coordinator."""
    settings: dict[str, Any] = {"EVIDENCE_ARCHIVE_DIR": str(Path(archive).resolve()), "LOG_LEVEL": log_level}
    settings.update(parse_overrides(overrides))
    return settings


def process_count(settings: dict[str, Any]) -> int:
    """The crawl processes ``settings`` ask for (``EVIDENCE_PROCESSES``, default 1)."""
    value = settings.get("EVIDENCE_PROCESSES", 1)
    check_setting("EVIDENCE_PROCESSES", value)
    return int(value)


def build_settings(overrides: dict[str, Any]) -> Settings:
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.update(overrides, priority="cmdline")
    return settings


def recorded_settings(settings: Settings) -> dict[str, Any]:
    """The settings that shape what a run sees, kept with the run for later readers."""
    names = [
        "USER_AGENT", "DOWNLOAD_TIMEOUT", "RETRY_TIMES", "ROBOTSTXT_OBEY", "EVIDENCE_MAX_BODY_SIZE",
        "EVIDENCE_ARCHIVE_DIR", "CONCURRENT_REQUESTS_PER_DOMAIN", "AUTOTHROTTLE_ENABLED", "EVIDENCE_BROWSER",
    ]
    return {name: settings.get(name) for name in names}


def recover(sessions: sessionmaker[Session], archive_dir: Path | None, *, every: bool = False) -> None:
    """What dead runs left: their runs marked interrupted (``close_dead_runs``) and, with
    ``archive_dir``, their open WARC files closed (``close_dead_files``)."""
    close_dead_runs(sessions, every=every)
    if archive_dir is not None:
        close_dead_files(sessions, archive_dir)


def close_dead_runs(sessions: sessionmaker[Session], *, every: bool = False) -> None:
    """Mark runs whose process died (kill -9, power loss) as interrupted.

    With ``every`` (this process holds the run lock) no other run can be alive, whatever
    its pid says: after a reboot a dead run's pid may belong to another program.
    """
    host = socket.gethostname()
    with sessions() as session, session.begin():
        for run in session.scalars(select(Run).where(Run.status == "running")):
            if every or (run.host == host and not process_alive(run.pid)):
                run.status = "interrupted"


def close_dead_files(sessions: sessionmaker[Session], archive_dir: Path) -> None:
    """WARC files a killed run left open: cut after their last whole record and close them."""
    closed = recover_open_files(archive_dir)
    if closed:
        with sessions() as session, session.begin():
            for item in closed:
                session.merge(WarcFile(name=item.name, sha256=item.sha256, size=item.size))


def start_run(sessions: sessionmaker[Session], urls: list[str], recorded: dict[str, Any]) -> int:
    """Record a new run over ``urls`` made with the settings ``recorded``; its id."""
    with sessions() as session, session.begin():
        run = Run(
            software=f"evidence/{__version__}",
            host=socket.gethostname(),
            pid=os.getpid(),
            targets=len(urls),
            settings=recorded,
        )
        session.add(run)
        session.flush()
        return run.id


def fail_run(sessions: sessionmaker[Session], run_id: int, reason: str) -> str:
    with sessions() as session, session.begin():
        run = session.get_one(Run, run_id)
        run.status = "failed"
        run.finished_at = utcnow()
    return f"run {run_id} stopped: {reason}"


def known_digests(sessions: sessionmaker[Session], urls: list[str]) -> dict[str, str]:
    """Payload digest of each URL's last capture judged present, to skip needless probes;
    none for one that was rendered, whose shell's bytes say nothing of what it showed."""
    latest = (
        select(func.max(Capture.id))
        .where(Capture.state.in_(("ok", "changed")), Capture.payload_digest.is_not(None))
        .group_by(Capture.target_id)
    )
    with sessions() as session:
        rows = session.connection().execute(
            select(Target.url, Capture.payload_digest)
            .join(Capture, Capture.target_id == Target.id)
            .where(Capture.id.in_(latest), Capture.dom_filename.is_(None))
        )
        known = {url: digest for url, digest in rows if digest}
    wanted = set(urls)
    return {url: digest for url, digest in known.items() if url in wanted}


def rendered_before(sessions: sessionmaker[Session], urls: list[str]) -> set[str]:
    """The URLs among ``urls`` whose last capture judged present was rendered in the browser."""
    latest = (
        select(func.max(Capture.id)).where(Capture.state.in_(("ok", "changed"))).group_by(Capture.target_id)
    )
    with sessions() as session:
        rows = session.connection().execute(
            select(Target.url).join(Capture, Capture.target_id == Target.id)
            .where(Capture.id.in_(latest), Capture.dom_filename.is_not(None))
        )
        wanted = set(urls)
        return {url for (url,) in rows if url in wanted}


def originals(sessions: sessionmaker[Session]) -> dict[str, Original]:
    """Per URL, the last archived complete 200 response: what revisits refer to and where
    conditional requests take their validators from."""
    originals: dict[str, Original] = {}
    latest = (
        select(func.max(Record.id))
        .where(
            Record.record_type == "response", Record.http_status == 200, Record.truncated.is_(None),
            Record.payload_digest.is_not(None), Record.date.is_not(None),
        )
        .group_by(Record.target_uri)
    )
    columns = (
        Record.payload_digest, Record.record_id, Record.target_uri, Record.date, Record.filename, Record.offset,
        Record.content_type, Record.etag, Record.last_modified,
    )
    # Plain rows streamed from the cursor: ORM objects, all fetched and held in the
    # session's identity map, cost 20 MB at 10,000 URLs, and the process kept most of it.
    with sessions() as session:
        rows = session.connection().execute(select(*columns).where(Record.id.in_(latest)))
        for digest, record_id, target_uri, date, filename, offset, content_type, etag, last_modified in rows:
            if digest and date:
                originals[target_uri] = Original(
                    payload_digest=digest,
                    record_id=record_id,
                    target_uri=target_uri,
                    date=date.replace(tzinfo=timezone.utc),
                    filename=filename,
                    offset=offset,
                    content_type=content_type,
                    etag=etag,
                    last_modified=last_modified,
                )
    return originals


def finish_run(
    sessions: sessionmaker[Session],
    run_id: int,
    urls: list[str],
    finish_reason: str | None,
) -> RunSummary:
    with sessions() as session, session.begin():
        run = session.get_one(Run, run_id)
        # Columns, not objects, and the previous states in one query: a 10,000-URL run
        # loaded every capture with its JSON columns and asked once per URL (80 MB, 5 s).
        captures = session.execute(
            select(Capture.id, Capture.target_id, Capture.state, Capture.reason, Target.url)
            .join(Target)
            .where(Capture.run_id == run_id)
            .order_by(Capture.target_id)
        ).all()
        newest = func.row_number().over(partition_by=Capture.target_id, order_by=Capture.run_id.desc()).label("n")
        earlier = select(Capture.target_id, Capture.state, newest).where(Capture.run_id < run_id).subquery()
        previous_states: dict[int, str] = {
            target_id: state
            for target_id, state in session.execute(select(earlier.c.target_id, earlier.c.state).where(earlier.c.n == 1))
        }
        summary = RunSummary(run_id=run_id, status="", targets=len(urls), captured=len(captures))
        gone = [target_id for _, target_id, state, _, _ in captures if state == "gone"]
        owed = memento_news(session, run_id, gone)
        found = found_mementos(session, gone)
        claims = run_claims(session, run_id)
        for capture_id, target_id, state, reason, url in captures:
            summary.states[state] += 1
            previous_state = previous_states.get(target_id)
            kind = news_kind(state, reason, previous_state)
            memento = found.get(target_id)
            memento_url = memento.memento_url if memento else None
            memento_datetime = _time(memento.memento_datetime) if memento else None
            if kind is None and target_id in owed:
                # Gone before, and its memento found only now (the archive was down, or the
                # citation dated later): the footnote can be repaired now. Reported once
                # (``memento_news``) whatever the acknowledgements: it is not the removal again.
                summary.news.append(
                    News(
                        url, "gone", state, reason, previous_state, cited_in(session, target_id),
                        memento_url=memento_url, memento_datetime=memento_datetime,
                    )
                )
                continue
            claim = claims.get(capture_id)
            if claim is not None and claim.fell and kind in (None, "changed"):
                # A pinned passage that no longer holds is news even on a page whose
                # fingerprint did not change (it may stand outside the main content, or in
                # text the fingerprint masks); it is news once, on the capture it fell on.
                kind = "claim_lost"
            if kind is None:
                continue
            item = News(
                url, kind, state, reason, previous_state, cited_in(session, target_id),
                claims=claim.verdict if claim else None, fell=tuple(fallen(claim)) if claim else (),
                memento_url=memento_url if state == "gone" else None,
                memento_datetime=memento_datetime if state == "gone" else None,
            )
            if kind == "changed" and claim is not None and claim.verdict == "hold":
                summary.held.append(item)
                continue
            capture = session.get_one(Capture, capture_id)
            acknowledged = kind != "claim_lost" and is_acknowledged(session, capture)
            (summary.acknowledged if acknowledged else summary.news).append(item)
        complete = finish_reason == "finished" and summary.missing == 0
        run.status = summary.status = "finished" if complete else "interrupted"
        run.finished_at = utcnow()
    return summary


def _time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def cited_in(session: Session, target_id: int) -> tuple[tuple[str, str], ...]:
    rows = session.execute(
        select(Document.name, Citation.footnote)
        .join(Citation, Citation.document_id == Document.id)
        .where(Citation.target_id == target_id)
        .order_by(Document.id, Citation.position)
    )
    return tuple(dict.fromkeys((document_label(name), footnote) for name, footnote in rows))


def trusted_time(overrides: dict[str, Any]) -> Any:
    """The time-stamping settings of a run (``EVIDENCE_TSA_*``: overrides, then the
    environment), with the trusted certificates readable: a ``SettingError`` otherwise."""
    from crawler.timestamps.tsa import TsaSettings, load_roots

    tsa = TsaSettings.resolve(overrides)
    load_roots(tsa.ca)
    return tsa


def stamp_closed_files(sessions: sessionmaker[Session], summary: RunSummary, overrides: dict[str, Any]) -> RunSummary:
    """Ask the TSAs for a token over each WARC file the run closed (and any owed from
    before): after the crawl, so that a TSA never holds it up, and never failing it, since
    an unstamped file stays owed. The outcome goes on ``summary.stamping``."""
    tsa = trusted_time(overrides)
    if tsa.urls:
        from crawler.timestamps.stamping import stamp_warc_files

        archive = overrides.get("EVIDENCE_ARCHIVE_DIR") or default_settings.EVIDENCE_ARCHIVE_DIR
        summary.stamping = stamp_warc_files(sessions, Path(archive), tsa)
    return summary
