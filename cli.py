"""evidence: archive the web pages a document cites, and tell which still hold.

This module only parses arguments and prints; the work is done in ``crawler``.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from crawler import __version__
from crawler.exceptions import (
    BrowserMissing,
    DatabaseMissing,
    DocumentError,
    EvidenceError,
    NoCitations,
    NotFound,
    RunLocked,
    SettingError,
    SigningError,
)

EXIT_OK = 0
EXIT_NEWS = 1
EXIT_INPUT = 2
EXIT_FAILURE = 3
EXIT_LOCKED = 4

EXIT_CODES_HELP = """\b
Exit codes:
  0  done, nothing new to report
  1  news: evidence changed, moved, gone or restored, or a pinned passage stopped
     holding, since the previous run
  2  usage or input error (bad option, unreadable document, unknown URL, no database)
  3  operational failure (database locked or damaged, archive unwritable, run incomplete
     or one of its crawl processes died, frontier (Redis) unreachable)
  4  another crawl holds this database; this one stopped without touching it"""


class EvidenceFailure(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        # click declares exit_code on the class; each failure here carries its own.
        self.exit_code = exit_code  # type: ignore[misc,unused-ignore]


def _fail(exc: EvidenceError) -> EvidenceFailure:
    """The one place a domain error becomes a message and an exit code."""
    if isinstance(exc, RunLocked):
        return EvidenceFailure(str(exc), EXIT_LOCKED)
    inputs = (DocumentError, NotFound, DatabaseMissing, SettingError, SigningError, BrowserMissing)
    code = EXIT_INPUT if isinstance(exc, inputs) else EXIT_FAILURE
    return EvidenceFailure(str(exc), code)


class EvidenceCommand(click.Command):
    """A setting the library refused is a usage error of this command: shown as click
    shows its own (with the command's usage line), pointing at ``-s`` when it came from one."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingError as exc:
            if exc.override is not None:
                raise click.BadParameter(str(exc), ctx=ctx, param_hint="-s/--set") from exc
            raise click.UsageError(str(exc), ctx=ctx) from exc


class EvidenceGroup(click.Group):
    """Commands raise the library's domain errors; they leave the program here, each as one
    ``Error:`` line and its documented exit code."""

    command_class = EvidenceCommand
    # ``evidence db``'s commands are handled the same way.
    group_class = type

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EvidenceError as exc:
            if isinstance(exc, NoCitations):
                # The message says they are "listed above": they explain it.
                _report_problems(exc.source, exc.problems)
            raise _fail(exc) from exc


class Time(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """An ISO 8601 time (``crawler.reports.times``): with ``upper``, the end of the second or day it
    names, for "at or before"; else its start, for "at or after"."""

    name = "TIME"

    def __init__(self, *, upper: bool) -> None:
        self.upper = upper

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        from crawler.reports.times import parse_time

        if isinstance(value, datetime):
            return value
        try:
            return parse_time(str(value), upper=self.upper)
        except SettingError as exc:
            self.fail(str(exc), param, ctx)


class FromTime(Time):
    """``diff --from``: a time as ``Time``, or ``cited``: the web archive's copy of the cited date."""

    name = "TIME|cited"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime | str:  # type: ignore[override]
        if isinstance(value, str) and value.strip().lower() == "cited":
            return "cited"
        return super().convert(value, param, ctx)


AT_OR_BEFORE = Time(upper=True)
AT_OR_AFTER = Time(upper=False)


def _tsa_options(func: Any) -> Any:
    func = click.option(
        "--tsa-ca", type=click.Path(dir_okay=False, exists=True), envvar="EVIDENCE_TSA_CA",
        help="PEM file of the time-stamping authorities trusted: keep only tokens they sign [env: EVIDENCE_TSA_CA].",
    )(func)
    return click.option(
        "--tsa-url", "tsa_urls", multiple=True, metavar="URL",
        help="Time-stamping authority (RFC 3161) to ask; repeat to try several in order [env: EVIDENCE_TSA_URL].",
    )(func)


def _tsa_settings(urls: tuple[str, ...], ca: str | None) -> Any:
    from crawler.timestamps.tsa import TsaSettings

    given: dict[str, Any] = {}
    if urls:
        given["EVIDENCE_TSA_URL"] = list(urls)
    if ca:
        given["EVIDENCE_TSA_CA"] = ca
    return TsaSettings.resolve(given)


def _print_stamping(result: Any, *, err: bool) -> None:
    for stamped in result.stamped:
        delay = "" if stamped.delay is None else f", {_duration(stamped.delay.total_seconds())} after it closed"
        click.echo(f"time-stamped {stamped.filename}: {_utc(stamped.time)} per {stamped.tsa_url}{delay}", err=err)
    for name, reason in result.owed:
        click.echo(f"Warning: {name} is owed a time-stamp token ({reason}); `evidence timestamp` asks again", err=True)


def _utc(value: datetime) -> str:
    from datetime import timezone

    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"


def _open(db: str, *, create: bool) -> Any:
    from crawler.store.db import open_database

    return open_database(db, create=create)


def _log_level(verbose: int, quiet: bool) -> int:
    return logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]


def _store_options(func: Any) -> Any:
    func = click.option(
        "--archive",
        envvar="EVIDENCE_ARCHIVE",
        default="archive",
        show_default=True,
        type=click.Path(file_okay=False),
        help="Folder of the WARC files [env: EVIDENCE_ARCHIVE].",
    )(func)
    func = click.option(
        "--db",
        envvar="EVIDENCE_DB",
        default="evidence.db",
        show_default=True,
        help="Database: a path, an SQLAlchemy URL or postgresql://USER@HOST:PORT/NAME [env: EVIDENCE_DB].",
    )(func)
    return func


def _archives_option(func: Any) -> Any:
    return click.option(
        "--archives", metavar="URL,...",
        help="Web archives (Wayback-style collection base URLs) asked for each cited URL's copy as of its cited "
        "date; an empty value turns the lookups off [env: EVIDENCE_ARCHIVES; default: https://web.archive.org/web/].",
    )(func)


def _archives(given: str | None) -> str | None:
    """``--archives``, else ``EVIDENCE_ARCHIVES`` from the environment: read here rather than
    by click, which takes an empty variable for an absent one, and empty turns lookups off."""
    import os

    return given if given is not None else os.environ.get("EVIDENCE_ARCHIVES")


def _format_option(func: Any) -> Any:
    func = click.option("--json", "fmt", flag_value="json", help="Print JSON.")(func)
    func = click.option("--csv", "fmt", flag_value="csv", help="Print CSV.")(func)
    func = click.option("--table", "fmt", flag_value="table", default=True, help="Print a table (default).")(func)
    return func


@click.group(cls=EvidenceGroup, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="evidence")
def cli() -> None:
    """Archive every URL a document cites to WARC and record whether the evidence still holds."""


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("documents", nargs=-1, type=click.Path(dir_okay=True))
@_store_options
@click.option("--user-agent", envvar="EVIDENCE_USER_AGENT", help="User-Agent to send [env: EVIDENCE_USER_AGENT].")
@click.option("--timeout", type=click.FloatRange(min=1), help="Seconds before a download is abandoned [default: 30].")
@click.option("--max-body", type=click.IntRange(min=0), help="Bytes of a body kept; the rest is cut and marked [default: 200 MB].")
@click.option(
    "--gone-after", type=click.IntRange(min=1), help="Runs in a row a URL must fail before it counts as gone [default: 3]."
)
@click.option(
    "--allow-private", is_flag=True, envvar="EVIDENCE_ALLOW_PRIVATE",
    help="Also fetch hosts on private, loopback or link-local addresses [env: EVIDENCE_ALLOW_PRIVATE].",
)
@click.option("--obey-robots", is_flag=True, help="Honour robots.txt (off by default: citations are fetched on a person's behalf).")
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE", help="Override a Scrapy or EVIDENCE_* setting.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.option("-v", "--verbose", count=True, help="More log detail on stderr (-v, -vv).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing unless there is news.")
@click.option(
    "--notify-webhook", "webhooks", multiple=True, metavar="URL", envvar="EVIDENCE_NOTIFY_WEBHOOK",
    help="POST the news as JSON to URL, only when there is news [env: EVIDENCE_NOTIFY_WEBHOOK].",
)
@click.option(
    "--notify-email", "emails", multiple=True, metavar="ADDR", envvar="EVIDENCE_NOTIFY_EMAIL",
    help="E-mail the news to ADDR through EVIDENCE_SMTP_HOST, only when there is news [env: EVIDENCE_NOTIFY_EMAIL].",
)
@click.option(
    "--frontier", metavar="redis://HOST:PORT/N", envvar="EVIDENCE_FRONTIER",
    help="Hand the URLs to `evidence worker` processes through this Redis and wait for them [env: EVIDENCE_FRONTIER].",
)
@click.option(
    "--workers", type=click.IntRange(min=0), default=0,
    help="With --frontier: also start this many `evidence worker` processes on this machine.",
)
@click.option(
    "--processes", type=click.IntRange(min=1),
    help="Split the URLs by host over this many crawl processes, to use more cores [default: 1].",
)
@_archives_option
@click.option(
    "--browser", type=click.Choice(["auto", "always", "never"]), envvar="EVIDENCE_BROWSER",
    help="Render pages in headless Chromium: auto (pages built by JavaScript), always (every HTML page) "
    "or never [default: auto; env: EVIDENCE_BROWSER].",
)
@click.option(
    "--news", "news", type=click.Choice(["claims", "all"]), default="claims", show_default=True,
    help="claims: a changed page whose pinned passages all hold is not news; all: it is.",
)
def crawl(
    documents: tuple[str, ...],
    db: str,
    archive: str,
    user_agent: str | None,
    timeout: float | None,
    max_body: int | None,
    gone_after: int | None,
    allow_private: bool,
    obey_robots: bool,
    overrides: tuple[str, ...],
    as_json: bool,
    verbose: int,
    quiet: bool,
    webhooks: tuple[str, ...],
    emails: tuple[str, ...],
    frontier: str | None,
    workers: int,
    processes: int | None,
    archives: str | None,
    browser: str | None,
    news: str,
) -> None:
    """Visit every URL the DOCUMENTS cite and archive what each answers.

    Without DOCUMENTS, every URL cited by the documents already in the database is
    re-checked; an empty database starts with the embedded seed report. With
    --frontier the URLs are fetched by `evidence worker` processes (see "Scaling out"
    in the README); this command waits for them and sums the run up as usual.
    """
    from crawler.citations.importer import read_cited
    from crawler.notify import notify
    from crawler.runs.lifecycle import crawl_settings
    from crawler.runs.local import run_crawl
    from crawler.runs.lock import run_lock
    from crawler.store.db import database_url, require_server

    chosen = crawl_settings(
        archive=archive,
        # Scrapy installs the stderr log handler itself, at this level.
        log_level=logging.getLevelName(_log_level(verbose, quiet)),
        user_agent=user_agent, timeout=timeout, max_body=max_body, gone_after=gone_after,
        obey_robots=obey_robots, allow_private=allow_private, processes=processes,
        progress=not quiet, archives=_archives(archives), browser=browser, overrides=overrides,
    )
    settings = chosen.crawl

    # Read every document before the database is touched: a typo in a path
    # must not leave an empty database behind.
    parsed = [read_cited(path) for path in documents]
    # Not a loop in this frame: its variable would hold the last document (15 MB of
    # citations for 10,000 URLs) through the whole crawl.
    _report_all_problems(parsed)
    if frontier:
        require_server(db)
        if chosen.processes > 1:
            raise click.UsageError("--processes splits a local crawl; with --frontier start more workers instead (--workers N)")
    elif workers:
        raise click.UsageError("--workers starts workers for a frontier: give --frontier redis://HOST:PORT/N too")
    # Taken before the database is opened: a second run must not even create the schema.
    with run_lock(db) as lock:
        sessions = _open(db, create=True)
        if frontier:
            from crawler.scaleout.frontier.coordinator import progress_stream, run_coordinated

            summary = run_coordinated(
                sessions, database_url(db), parsed, settings, frontier, locked=lock is not None, progress=progress_stream(quiet),
                workers=workers, worker_command=[sys.executable, str(Path(__file__).resolve())], db=db,
            )
        else:
            summary = run_crawl(sessions, database_url(db), parsed, settings, locked=lock is not None)
    if summary.stamping is not None and (not quiet or summary.stamping.owed):
        _print_stamping(summary.stamping, err=True)
    if news == "all":
        summary.include_held()
    failures = notify(summary, database_url(db), webhooks=webhooks, emails=emails, settings=chosen.notify)
    for failure in failures:
        click.echo(f"Warning: notification not sent: {failure}; the run's results are recorded", err=True)

    if as_json:
        click.echo(json.dumps({**summary.as_dict(), "notify_failures": len(failures)}, indent=2))
    elif not quiet or summary.news or summary.status != "finished":
        click.echo(_summary_text(summary))
    if summary.status != "finished":
        died = "".join(f"{problem}; " for problem in summary.problems)
        click.echo(
            f"Error: run {summary.run_id} is incomplete: {died}{summary.missing} of {summary.targets} URLs have no capture; "
            "run `evidence crawl` again to check them",
            err=True,
        )
        sys.exit(EXIT_FAILURE)
    sys.exit(EXIT_NEWS if summary.evidence_news else EXIT_OK)


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("url", required=False)
@_store_options
@click.option("--all", "every", is_flag=True, help="Every cited URL with a cited date.")
@click.option("--refresh", is_flag=True, help="Look up again those already answered (found or none).")
@_archives_option
@click.option("--user-agent", envvar="EVIDENCE_USER_AGENT", help="User-Agent to send [env: EVIDENCE_USER_AGENT].")
@click.option("--timeout", type=click.FloatRange(min=1), help="Seconds before a download is abandoned [default: 30].")
@click.option(
    "--allow-private", is_flag=True, envvar="EVIDENCE_ALLOW_PRIVATE",
    help="Also fetch hosts on private, loopback or link-local addresses [env: EVIDENCE_ALLOW_PRIVATE].",
)
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE", help="Override a Scrapy or EVIDENCE_* setting.")
@click.option("-v", "--verbose", count=True, help="More log detail on stderr (-v, -vv).")
def lookup(
    url: str | None, db: str, archive: str, every: bool, refresh: bool, archives: str | None, user_agent: str | None,
    timeout: float | None, allow_private: bool, overrides: tuple[str, ...], verbose: int,
) -> None:
    """Look up the web archives' copy of URL (or of every cited URL, --all) as of its cited date.

    A crawl does this by itself once per cited URL and date; this runs only the lookups
    still owed (never looked up, or the archives were unreachable), or all of them again
    with --refresh. It takes the database's run lock like a crawl.
    """
    from crawler.runs.lifecycle import crawl_settings
    from crawler.runs.local import run_lookups
    from crawler.runs.lock import run_lock
    from crawler.store.db import database_url

    if bool(url) == every:
        raise click.UsageError("give either a URL or --all")
    chosen = crawl_settings(
        archive=archive, log_level=logging.getLevelName(_log_level(verbose, False)), user_agent=user_agent,
        timeout=timeout, allow_private=allow_private, progress=False, archives=_archives(archives), overrides=overrides,
    )
    with run_lock(db) as lock:
        sessions = _open(db, create=False)
        done = run_lookups(sessions, database_url(db), url, chosen.crawl, refresh=refresh, locked=lock is not None)
    if done.run_id is None:
        click.echo("nothing to look up: every cited URL with a cited date was looked up already (--refresh asks again)")
        return
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(done.outcomes.items())) or "none recorded"
    click.echo(f"run {done.run_id}: {done.owed} lookups ({counts})")
    if done.missing:
        click.echo(f"Error: run {done.run_id} stopped before {done.missing} lookups were recorded; run it again", err=True)
        sys.exit(EXIT_FAILURE)


@cli.command(epilog=EXIT_CODES_HELP)
@_store_options
@click.option(
    "--frontier", required=True, metavar="redis://HOST:PORT/N", envvar="EVIDENCE_FRONTIER",
    help="The Redis the coordinator (`evidence crawl --frontier`) published the run to [env: EVIDENCE_FRONTIER].",
)
@click.option("--worker-id", help="Name in this worker's WARC files and leases [default: HOST_PID].")
@click.option("--run", "run_id", type=click.IntRange(min=1), help="Work on this run [default: the frontier's current run].")
@click.option(
    "--wait", type=click.FloatRange(min=0), help="Seconds to wait for a run to start before giving up [default: wait until one does]."
)
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE", help="Override a Scrapy or EVIDENCE_* setting.")
@click.option("-v", "--verbose", count=True, help="More log detail on stderr (-v, -vv).")
def worker(
    db: str, archive: str, frontier: str, worker_id: str | None, run_id: int | None, wait: float | None,
    overrides: tuple[str, ...], verbose: int,
) -> None:
    """Fetch URLs of a run from the shared frontier until the run is over.

    Crawl settings (timeout, user agent, body cap...) come from the coordinator; the
    archive folder is this worker's own. Exit 0 when the run is over, 3 when this
    worker had to stop (its URLs go to the other workers).
    """
    from crawler.runs.lifecycle import worker_settings
    from crawler.scaleout.frontier.state import default_worker_id
    from crawler.scaleout.frontier.state import worker_id as clean_id
    from crawler.scaleout.frontier.worker import run_worker
    from crawler.store.db import require_server

    require_server(db)
    settings = worker_settings(archive=archive, log_level=logging.getLevelName(_log_level(verbose, False)), overrides=overrides)
    name = clean_id(worker_id) if worker_id else default_worker_id()
    result = run_worker(db, frontier, name, settings, run_id=run_id, wait=wait)
    click.echo(f"worker {result.worker}: run {result.run_id} {result.run_state}, {result.recorded} URLs recorded by this worker")


def _report_all_problems(parsed: list[Any]) -> None:
    for document in parsed:
        _report_problems(document.source, document.problems)


def _report_problems(source: str, problems: list[Any]) -> None:
    for problem in problems:
        click.echo(f"{source}:{problem.line}: skipped {problem.text} ({problem.reason})", err=True)


def _summary_text(summary: Any) -> str:
    counts = ", ".join(f"{n} {state}" for state, n in sorted(summary.states.items()))
    lines = [f"run {summary.run_id} {summary.status}: {summary.targets} URLs checked ({counts or 'none captured'})"]
    if summary.news:
        lines.append("news since the previous run:")
        for item in summary.news:
            lines.append(f"  {item.kind:<11} {item.reason:<16} {item.url}")
            if item.memento_url:
                # The copy of the cited date, to repair the footnote with.
                lines.append(f"  {'':<11} {'memento':<16} {item.memento_url} ({item.memento_datetime})")
            lines += [f"    {_fell_text(fell)}" for fell in item.fell]
    else:
        lines.append("no news since the previous run")
    if summary.held:
        lines.append(f"{len(summary.held)} changed but every pinned passage holds (claims: hold; `--news all` reports them)")
    if summary.acknowledged:
        lines.append(f"{len(summary.acknowledged)} acknowledged (`evidence ack`) and not reported again")
    return "\n".join(lines)


def _fell_text(fell: dict[str, Any]) -> str:
    """One pin that fell, for the run summary."""
    quote = _short(fell["quote"])
    if fell["now"] == "partial":
        return f'pin {fell["pin"]} {quote}: {fell["was"]} -> partial ({fell["score"]:.2f}), the page says {_short(fell["found"])}'
    nearest = f', nearest {_short(fell["nearest"])}' if fell["nearest"] else ""
    return f'pin {fell["pin"]} {quote}: {fell["was"]} -> lost{nearest}'


def _short(text: str | None, width: int = 70) -> str:
    text = " ".join((text or "").split())
    return f'"{text if len(text) <= width else text[: width - 1] + "…"}"'


@cli.command(name="import", epilog=EXIT_CODES_HELP)
@click.argument("documents", nargs=-1, required=True, type=click.Path(dir_okay=True))
@_store_options
@click.option("--dry-run", is_flag=True, help="Print what the documents cite; record nothing (no database is created).")
@click.option("--json", "as_json", is_flag=True, help="Print the documents and their citations as JSON.")
@click.option(
    "--cited-at", "given", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, metavar="YYYY-MM-DD",
    help="The day every citation of DOCUMENTS was made, over the access dates of their notes and the documents' dates.",
)
@click.option(
    "--pin-quotes", is_flag=True,
    help="Pin what each citing sentence or note quotes (\"...\", “...”, «...»): `evidence pins` lists them.",
)
def import_(
    documents: tuple[str, ...], db: str, archive: str, dry_run: bool, as_json: bool, given: datetime | None,
    pin_quotes: bool,
) -> None:
    """Record the citations of DOCUMENTS (PDF, Word .docx, HTML, Markdown or plain text) without crawling.

    Prints one line per citation (footnote label, PDF page, URL), then a summary per document.
    """
    from crawler.citations import read_document
    from crawler.citations.importer import read_cited, record_file

    day = given.date() if given else None
    if pin_quotes and dry_run:
        raise click.UsageError("--pin-quotes records pins: it cannot go with --dry-run")

    # Every document is read before the database is touched: one unreadable file
    # leaves nothing half-imported.
    parsed = [read_document(path) if dry_run else read_cited(path) for path in documents]
    sessions = None if dry_run else _open(db, create=True)
    output: list[dict[str, Any]] = []
    for path, document in zip(documents, parsed, strict=True):
        citations = document.citations
        imported = record_file(sessions, document, day) if sessions is not None else None
        distinct = len(imported.urls) if imported is not None else document.distinct_urls
        if pin_quotes and imported is not None and sessions is not None:
            from crawler.claims.store import pin_quotes as pin_document_quotes

            pinned = pin_document_quotes(sessions, Path(archive), imported.name, [c.quotes for c in citations])
            new = sum(item.new for item in pinned)
            click.echo(f"{path}: {new} quoted passages pinned ({len(pinned) - new} already were); `evidence pins` lists them", err=True)
        if as_json:
            output.append(document.as_dict(recorded=sessions is not None, given=day))
        else:
            paged = any(c.page is not None for c in citations)
            for citation in citations:
                page = f"{'p.' + str(citation.page) if citation.page is not None else '':<6} " if paged else ""
                click.echo(f"  {'[' + citation.footnote + ']':<8} {page}{citation.url}")
                if citation.visible:
                    click.echo(f"  {'':<8} {page and ' ' * len(page)}(the text shows {citation.visible})")
            summary = (
                f"{path}: {len(citations)} citations in {len({c.footnote for c in citations})} footnotes, "
                f"{distinct} distinct URLs, {len(document.problems)} skipped"
            )
            click.echo(summary + (" (dry run: nothing recorded)" if dry_run else ""))
        _report_problems(path, document.problems)
    if as_json:
        click.echo(json.dumps(output, indent=2, ensure_ascii=False))


@cli.command(epilog=EXIT_CODES_HELP)
@_store_options
@_format_option
@click.option("--document", help="Only this document (its file name, or 'seed').")
@click.option(
    "--summary", is_flag=True,
    help="The reference-rot figures instead: per document and overall, citations intact, drifted, rotted and "
    "unknown since they were cited, with the method.",
)
def status(db: str, archive: str, fmt: str, document: str | None, summary: bool) -> None:
    """One row per citation with the latest verdict on its URL."""
    from crawler.reports.output import render
    from crawler.reports.queries import STATUS_COLUMNS, status_rows

    sessions = _open(db, create=False)
    if summary:
        from crawler.reports.drift import render_summary
        from crawler.reports.queries import summary_rows

        click.echo(render_summary(summary_rows(sessions, document, Path(archive)), fmt), nl=False)
        return
    rows = status_rows(sessions, document, Path(archive))
    click.echo(render(rows, STATUS_COLUMNS, fmt), nl=False)


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("url")
@_store_options
@_format_option
def history(url: str, db: str, archive: str, fmt: str) -> None:
    """Every capture of URL, newest first."""
    from crawler.reports.output import render
    from crawler.reports.queries import HISTORY_COLUMNS, history_rows

    sessions = _open(db, create=False)
    rows = history_rows(sessions, url)
    click.echo(render(rows, HISTORY_COLUMNS, fmt), nl=False)


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("url")
@_store_options
@click.option("--quote", "quotes", multiple=True, required=True, help="A passage the page must hold (repeat for several).")
@click.option("--document", help="The citing document (its file name, or 'seed') [default: every document citing URL].")
@click.option("--footnote", help="The citing footnote [default: every footnote citing URL].")
@click.option("--note", default="", help="Why: kept with the pin.")
def pin(url: str, db: str, archive: str, quotes: tuple[str, ...], document: str | None, footnote: str | None, note: str) -> None:
    """Pin a passage that URL must hold for its citation: checked at once against the latest
    whole capture, then on every capture; a pin that stops holding is news (claim_lost).

    It is checked too on the web archive's copy of the cited date (`evidence lookup`), now
    or when the copy is found: lost there, the passage was not on the page when cited."""
    from crawler.claims.store import add_pins

    sessions = _open(db, create=False)
    for item in add_pins(sessions, Path(archive), url, quotes, document=document, footnote=footnote, note=note):
        click.echo(_checked_text(item))


def _checked_text(item: Any) -> str:
    """A pin as made, and what the latest capture says of it."""
    from crawler.claims.store import differences_text
    from crawler.reports.times import shown

    head = f"{'pinned' if item.new else 'already pinned'} {item.pin_id} {_short(item.quote)}"
    result = item.result
    if result is None:
        return f"{head}: not checked yet ({item.problem}){_cited_text(item.cited)}"
    when = f"in the capture of {shown(item.checked_at)}"
    if result.status == "holds":
        said = f"holds {when}, at characters {result.start}-{result.end}"
    elif result.status == "partial":
        said = f"partial ({result.score:.2f}) {when}: the page says {_short(result.matched)} ({differences_text(result.differs)})"
    elif result.status == "lost":
        said = f"lost {when}" + (f"; nearest {_short(result.nearest)}" if result.nearest else "")
    else:
        said = f"unknown {when} (its text cannot be read)"
    return f"{head}: {said}{_cited_text(item.cited)}"


def _cited_text(cited: Any) -> str:
    """What the memento of the cited date says of a pin: was the passage there when cited?"""
    from urllib.parse import urlsplit

    if cited is None:
        return ""
    day = cited.memento_datetime.strftime("%Y-%m-%d") if cited.memento_datetime else "?"
    where = f"in the copy of {day} ({urlsplit(cited.archive or cited.memento_url or '').netloc})"
    if cited.result is None:
        return f"; {where}: not checked (its record cannot be read)"
    status = cited.result.status
    if status == "partial":
        return f"; {where}: partial ({cited.result.score:.2f})"
    if status == "lost":
        return f"; {where}: lost, not on the page when it was cited (check the citation)"
    return f"; {where}: {status}"


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("url", required=False)
@_store_options
@_format_option
@click.option("--document", help="Only pins of this document (its file name, or 'seed').")
@click.option("--removed", is_flag=True, help="Also the pins removed with `evidence unpin`, with when and why.")
def pins(url: str | None, db: str, archive: str, fmt: str, document: str | None, removed: bool) -> None:
    """Every pinned passage (of URL), with its latest result: holds, partial, lost or unchecked.

    cited_claim is its result on the web archive's copy of the cited date (cited_memento):
    holds, partial, lost (not on the page when cited), unknown, or none without a copy."""
    from crawler.claims.store import PIN_COLUMNS, pin_rows
    from crawler.reports.output import render

    sessions = _open(db, create=False)
    click.echo(render(pin_rows(sessions, url, document, removed=removed), PIN_COLUMNS, fmt), nl=False)


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("pin_id", metavar="PIN", type=click.IntRange(min=1))
@_store_options
@click.option("--note", default="", help="Why: kept with the removed pin.")
def unpin(pin_id: int, db: str, archive: str, note: str) -> None:
    """Stop checking pin PIN (`evidence pins` numbers them); it stays in the audit history."""
    from crawler.claims.store import remove_pin

    sessions = _open(db, create=False)
    done = remove_pin(sessions, pin_id, note)
    click.echo(f"unpinned {done['pin']} {_short(done['quote'])} from {done['url']} at {done['removed_at']}")


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("url")
@_store_options
@click.option("--at", "at", type=AT_OR_BEFORE, help="The latest snapshot at or before this UTC time (ISO 8601).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file instead of stdout.")
@click.option("--headers", is_flag=True, help="Print the archived HTTP status line and headers instead of the body.")
@click.option("--raw", is_flag=True, help="Keep the content coding (gzip...) as served.")
@click.option("--cited", is_flag=True, help="The web archive's copy of URL as of its cited date (`evidence lookup`), not a capture.")
@click.option(
    "--screenshot", is_flag=True,
    help="The full-page PNG of the latest capture rendered in the browser (at or before --at), exactly as archived; "
    "exit 2 when no capture of URL was rendered with one.",
)
def show(
    url: str, db: str, archive: str, at: datetime | None, output: str | None, headers: bool, raw: bool, cited: bool,
    screenshot: bool,
) -> None:
    """The archived payload of URL, read from the WARC at its stored offset."""
    from crawler.reports.queries import snapshot_capture
    from crawler.reports.times import shown
    from crawler.store.mementos import cited_memento
    from crawler.warc.snapshots import Located, load_snapshot

    if cited and at is not None:
        raise click.UsageError("--cited shows the copy of the cited date: give it without --at")
    if screenshot and (cited or headers or raw):
        raise click.UsageError("--screenshot shows the picture of a rendered capture: give it without --cited, --headers or --raw")
    sessions = _open(db, create=False)
    located: Located
    if screenshot:
        from crawler.reports.queries import screenshot_of
        from crawler.warc.snapshots import load_resource

        rendered, record = screenshot_of(sessions, url, at)
        data = load_resource(Path(archive), record.filename, record.offset, "screenshot")
        _write_shown(data, output, f"the screenshot of {url} as rendered {shown(rendered.checked_at)}")
        return
    if cited:
        memento = cited_memento(sessions, url)
        assert memento.memento_datetime is not None  # a found memento has its time
        located, what = memento, f"as archived by {memento.archive} {shown(memento.memento_datetime)}"
    else:
        capture = snapshot_capture(sessions, url, at)
        located, what = capture, f"as captured {shown(capture.checked_at)}"
    snapshot = load_snapshot(Path(archive), located, decode=not raw and not headers)
    data = snapshot.record.http_head + b"\r\n" if headers else snapshot.body
    _write_shown(data, output, f"{url} {what}")


def _write_shown(data: bytes, output: str | None, what: str) -> None:
    if output:
        try:
            Path(output).write_bytes(data)
        except OSError as exc:
            raise EvidenceFailure(f"cannot write {output}: {exc.strerror}", EXIT_FAILURE) from exc
        click.echo(f"wrote {len(data)} bytes of {what} to {output}", err=True)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("url")
@_store_options
@click.option(
    "--from", "since", type=FromTime(upper=True),
    help="The older capture: the latest at or before this UTC time (ISO 8601), or `cited`: the web archive's "
    "copy of the cited date (`evidence lookup`).",
)
@click.option("--to", "until", type=AT_OR_BEFORE, help="The newer capture: the latest at or before this UTC time (default: the last).")
def diff(url: str, db: str, archive: str, since: datetime | str | None, until: datetime | None) -> None:
    """A unified diff of the text of two captures of URL (default: the last two)."""
    from crawler.reports.diff import cited_diff, cited_pair, pick_pair, text_diff
    from crawler.reports.times import shown

    sessions = _open(db, create=False)
    if since == "cited":
        memento, latest = cited_pair(sessions, url, until)
        assert memento.memento_datetime is not None  # a found memento has its time
        output = cited_diff(Path(archive), memento, latest, url)
        if output:
            click.echo(output, nl=False)
        else:
            click.echo(f"no text difference between the memento of {shown(memento.memento_datetime)} and {shown(latest.checked_at)}")
        return
    assert not isinstance(since, str)
    older, newer = pick_pair(sessions, url, since, until)
    output = text_diff(Path(archive), older, newer, url)
    if output:
        click.echo(output, nl=False)
    else:
        click.echo(f"no text difference between {shown(older.checked_at)} and {shown(newer.checked_at)}")


@cli.command(epilog=EXIT_CODES_HELP)
@_store_options
@click.option("--all", "every", is_flag=True, help="Ask for a new token for every closed file, even those stamped already.")
@click.option("--json", "as_json", is_flag=True, help="Print what was stamped and what is still owed as JSON.")
@_tsa_options
def timestamp(db: str, archive: str, every: bool, as_json: bool, tsa_urls: tuple[str, ...], tsa_ca: str | None) -> None:
    """Ask the time-stamping authorities for the tokens closed WARC files are owed.

    A file closed while no TSA could be reached is stamped here, and the delay between its
    closing and its token is shown. Exits 3 when a file is still owed a token.
    """
    from crawler.timestamps.stamping import stamp_warc_files

    tsa = _tsa_settings(tsa_urls, tsa_ca)
    if not tsa.urls:
        raise click.UsageError("no time-stamping authority: give --tsa-url URL or set EVIDENCE_TSA_URL")
    sessions = _open(db, create=False)
    result = stamp_warc_files(sessions, Path(archive), tsa, every=every)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        _print_stamping(result, err=False)
        click.echo(f"{len(result.stamped)} files time-stamped, {len(result.owed)} still owed a token")
    sys.exit(EXIT_FAILURE if result.owed else EXIT_OK)


@cli.command(epilog=EXIT_CODES_HELP)
@_store_options
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option(
    "--tsa-ca", type=click.Path(dir_okay=False, exists=True), envvar="EVIDENCE_TSA_CA",
    help="PEM file of the time-stamping authorities trusted: check each token's signature [env: EVIDENCE_TSA_CA].",
)
@click.option("--wacz", "wacz_file", type=click.Path(dir_okay=False, exists=True),
              help="Check this WACZ package on its own instead (no database): hashes, digest, signature, time-stamp.")
@click.option("--key", "public_key", metavar="PUBLIC_KEY",
              help="With --wacz: the signer's public key (as `evidence keys public` prints it, or a file holding it).")
def verify(db: str, archive: str, as_json: bool, tsa_ca: str | None, wacz_file: str | None, public_key: str | None) -> None:
    """Re-read every archived record and file and check them against their digests,
    and each file's time-stamp tokens against the file and the trusted TSAs.

    Exits 0 when everything is intact and 1 when anything is missing, cut or altered,
    or a token does not prove its file.
    """
    from crawler.warc.verify import verify_archive

    if wacz_file:
        _verify_wacz(Path(wacz_file), public_key, tsa_ca, as_json)
    if public_key:
        raise click.UsageError("--key checks a package's signer: give --wacz FILE with it")
    sessions = _open(db, create=False)
    result = verify_archive(sessions, Path(archive), tsa_ca=Path(tsa_ca) if tsa_ca else None)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        for damage in result.damage:
            click.echo(f"DAMAGED {damage}")
        for name in result.unclosed:
            click.echo(f"note: {name} was never closed (its writer stopped); its records were checked one by one")
        for name in result.unrecorded:
            click.echo(f"note: {name} has no checksum recorded; its records were checked one by one")
        checked = "" if result.tsa_checked else " (signature not checked: give --tsa-ca)"
        for proven in result.proven:
            click.echo(f"time-stamped {proven.filename}: existed by {_utc(proven.time)} per {proven.tsa_url or 'its .tsr'}{checked}")
        if result.proven or result.tsa_checked:
            for name in result.unstamped:
                click.echo(f"note: {name} has no time-stamp token yet; `evidence timestamp` asks for one")
        verdict = "all intact" if result.intact else f"{len(result.damage)} problems"
        click.echo(f"verified {result.records} records and {result.files} closed files: {verdict}")
    sys.exit(EXIT_OK if result.intact else EXIT_NEWS)


def _verify_wacz(path: Path, public_key: str | None, tsa_ca: str | None, as_json: bool) -> None:
    from crawler.export.verifywacz import verify_wacz
    from crawler.timestamps.tsa import load_roots

    if public_key and Path(public_key).is_file():
        public_key = Path(public_key).read_text(encoding="utf-8")
    result = verify_wacz(path, expected_key=public_key, roots=load_roots(Path(tsa_ca) if tsa_ca else None))
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        for problem in result.problems:
            click.echo(f"DAMAGED {problem}")
        if result.signed_by:
            click.echo(f"signed by {result.signed_by}" + ("" if public_key else " (not compared: give --key)"))
        if result.stamped_at:
            checked = "" if result.tsa_checked else " (TSA signature not checked: give --tsa-ca)"
            click.echo(f"signature time-stamped: existed by {_utc(result.stamped_at)}{checked}")
        verdict = "intact" if result.intact else f"{len(result.problems)} problems"
        click.echo(f"verified {path}: {result.files} files, {verdict}")
    sys.exit(EXIT_OK if result.intact else EXIT_NEWS)


@cli.command(epilog=EXIT_CODES_HELP)
@_store_options
@click.option("--wacz", "wacz_file", type=click.Path(dir_okay=False), help="Write a WACZ package (WARC, CDXJ, pages, datapackage).")
@click.option("--sign", "sign_key", type=click.Path(dir_okay=False, exists=True),
              help="With --wacz: sign the package with this private key (`evidence keys create`; mode 0600).")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False), help="Write the citation table as CSV.")
@click.option("--json", "json_file", type=click.Path(dir_okay=False), help="Write the citation table as JSON.")
@click.option("--document", help="Only this document (its file name, or 'seed').")
@click.option("--since", type=AT_OR_AFTER, help="Only captures at or after this UTC time (ISO 8601); WACZ only.")
@_tsa_options
def export(
    db: str, archive: str, wacz_file: str | None, csv_file: str | None, json_file: str | None,
    document: str | None, since: datetime | None, tsa_urls: tuple[str, ...], tsa_ca: str | None, sign_key: str | None,
) -> None:
    """Carry the evidence away: a WACZ for replay tools, or the citation table for spreadsheets."""
    from crawler.export.selection import select_records
    from crawler.export.signing import package_signer
    from crawler.export.wacz import write_wacz
    from crawler.reports.output import render
    from crawler.reports.queries import STATUS_COLUMNS, status_rows

    if not (wacz_file or csv_file or json_file):
        raise click.UsageError("say what to write: --wacz FILE, --csv FILE or --json FILE")
    if sign_key and not wacz_file:
        raise click.UsageError("--sign signs a package: give --wacz FILE with it")
    sessions = _open(db, create=False)
    try:
        if wacz_file:
            from crawler.exceptions import TimestampError
            from crawler.timestamps.stamping import stamp_package, warc_tokens

            tsa = _tsa_settings(tsa_urls, tsa_ca)
            # The key is checked before anything is read or written: a refused key costs nothing.
            sign = package_signer(Path(sign_key), tsa) if sign_key else None
            selection = select_records(sessions, document, since)
            tokens = warc_tokens(sessions, (record.filename for record in selection.records))
            counts = write_wacz(selection, Path(archive), Path(wacz_file), tokens=tokens, sign=sign)
            # Said apart, so that records without pages to match are not taken for strays.
            of_lookups = f" ({selection.memento_records} of web archive lookups)" if selection.memento_records else ""
            click.echo(f"wrote {wacz_file}: {counts['records']} records{of_lookups}, {counts['pages']} pages, "
                       f"{counts['tokens']} time-stamp tokens" + (", signed" if sign else ""), err=True)
            if tsa.urls:
                try:
                    stamped = stamp_package(sessions, Path(wacz_file), tsa)
                except TimestampError as exc:
                    # The package is written and whole; only its own token is missing.
                    raise EvidenceFailure(f"{wacz_file} written but not time-stamped: {exc}", EXIT_FAILURE) from exc
                click.echo(f"time-stamped {wacz_file}: {_utc(stamped.time)} per {stamped.tsa_url} ({wacz_file}.tsr)", err=True)
        for path, fmt in ((csv_file, "csv"), (json_file, "json")):
            if path:
                rows = status_rows(sessions, document, Path(archive))
                Path(path).write_text(render(rows, STATUS_COLUMNS, fmt), encoding="utf-8")
                click.echo(f"wrote {path}: {len(rows)} citations", err=True)
    except OSError as exc:
        raise EvidenceFailure(f"cannot write {exc.filename}: {exc.strerror}", EXIT_FAILURE) from exc


@cli.group(epilog=EXIT_CODES_HELP)
def keys() -> None:
    """Signing keys for WACZ packages (`export --wacz FILE --sign KEY`): ECDSA P-384 or P-256."""


@keys.command(name="create", epilog=EXIT_CODES_HELP)
@click.option("--out", default="evidence-signing.key", show_default=True, type=click.Path(dir_okay=False),
              help="Private key file to write (mode 0600; never overwritten).")
@click.option("--curve", type=click.Choice(["P-384", "P-256"]), default="P-384", show_default=True,
              help="P-384 verifies in ReplayWeb.page; P-256 is the curve the WACZ signing recommendation names.")
def keys_create(out: str, curve: str) -> None:
    """Make a private key and print its public key, the one to publish for auditors."""
    from crawler.export.signing import create_key

    click.echo(create_key(Path(out), curve))
    click.echo(f"wrote {out} (private: keep it, mode 0600); the line above is its public key", err=True)


@keys.command(name="public", epilog=EXIT_CODES_HELP)
@click.argument("key", type=click.Path(dir_okay=False, exists=True))
def keys_public(key: str) -> None:
    """Print the public key of a private key file (base64 SubjectPublicKeyInfo, DER)."""
    from crawler.export.signing import load_key, public_key_text

    click.echo(public_key_text(load_key(Path(key)).public_key()))


@cli.command(epilog=EXIT_CODES_HELP)
@_store_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Index file [default: ARCHIVE/index.cdxj].")
def index(db: str, archive: str, output: str | None) -> None:
    """Write a pywb-compatible CDXJ index of every archived response and revisit."""
    from crawler.export.cdxj import cdxj_lines, write_index
    from crawler.export.selection import index_entries, select_records

    sessions = _open(db, create=False)
    target = Path(output) if output else Path(archive) / "index.cdxj"
    try:
        lines = cdxj_lines(index_entries(select_records(sessions).records))
        write_index(lines, target)
    except OSError as exc:
        raise EvidenceFailure(f"cannot write {target}: {exc.strerror}", EXIT_FAILURE) from exc
    click.echo(f"indexed {len(lines)} records in {target}", err=True)


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("url", required=False)
@_store_options
@click.option("--all", "every", is_flag=True, help="Acknowledge every URL with news nobody has acknowledged yet.")
@click.option("--note", default="", help="Why: kept with the acknowledgement, shown in history and the report.")
def ack(url: str | None, db: str, archive: str, every: bool, note: str) -> None:
    """Mark the latest change or removal of URL as reviewed: it is not reported again until it changes."""
    from crawler.reports.times import shown
    from crawler.store.acks import acknowledge, acknowledge_all

    if bool(url) == every:
        raise click.UsageError("give either a URL or --all")
    sessions = _open(db, create=False)
    done = acknowledge_all(sessions, note) if every else [acknowledge(sessions, url or "", note)]
    if not done:
        click.echo("nothing to acknowledge: no news is waiting for review")
    for item in done:
        latest = f"{item.state} ({item.reason}) in run {item.run_id}, {shown(item.checked_at)}"
        if item.news is None or item.news[1] == item.run_id:
            click.echo(f"acknowledged {item.url}: {latest}")
        else:
            click.echo(f"acknowledged {item.url}: {item.news[0]} in run {item.news[1]}, now {latest}")


@cli.command(epilog=EXIT_CODES_HELP)
@_store_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write [default: report.html or report.md].")
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), help="html (one self-contained file) or md [default: from -o].")
@click.option("--document", help="Only this document (its file name, or 'seed').")
def report(db: str, archive: str, output: str | None, fmt: str | None, document: str | None) -> None:
    """Write the researchers' report: per document, one row per footnote with its state, captures,
    archived copy (saved beside the report) and text diff, a count per state and a timeline chart."""
    from crawler.reports.report import write_report
    from crawler.store.db import display_name

    if fmt is None:
        fmt = "md" if output and Path(output).suffix.lower() in (".md", ".markdown") else "html"
    path = Path(output or f"report.{fmt}")
    sessions = _open(db, create=False)
    written = write_report(sessions, Path(archive), path, fmt, display_name(db), document)
    click.echo(f"wrote {written.path}: {written.citations} citations, {written.copies} archived copies in {written.files}/")
    for problem in written.problems:
        click.echo(f"Warning: {problem}", err=True)


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("document", type=click.Path(dir_okay=False))
@_store_options
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The annotated copy to write.")
def annotate(document: str, db: str, archive: str, output: str) -> None:
    """Copy DOCUMENT (HTML, Markdown or text) with each cited link annotated with its archived copy and date."""
    from crawler.reports.annotate import annotate as annotate_document

    if Path(output).resolve() == Path(document).resolve():
        raise click.BadParameter("the output must not be the document itself", param_hint="-o/--output")
    sessions = _open(db, create=False)
    done = annotate_document(sessions, Path(archive), Path(document), Path(output))
    click.echo(f"wrote {done.output}: {done.links} links annotated, archived copies in {done.files}/")
    for url in done.unarchived:
        click.echo(f"Warning: {url} is cited but has no archived copy of the page; not annotated", err=True)


@cli.group(epilog=EXIT_CODES_HELP)
def db() -> None:
    """The database's schema: which migration it is at, and bringing it to this release's."""


@db.command(name="current", epilog=EXIT_CODES_HELP)
@_store_options
def db_current(db: str, archive: str) -> None:
    """Print the schema revision of the database (every command upgrades it when it opens it)."""
    from crawler.store.db import display_name
    from crawler.store.migrate import revision

    at = revision(db)
    state = "(head)" if at.at_head else f"(this evidence writes {at.head}; `evidence db upgrade` migrates)"
    click.echo(f"{display_name(db)}: revision {at.current or 'none (from before migrations)'} {state}")


@db.command(name="upgrade", epilog=EXIT_CODES_HELP)
@_store_options
def db_upgrade(db: str, archive: str) -> None:
    """Create the database, or migrate it to this release's schema."""
    from crawler.store.db import display_name
    from crawler.store.migrate import upgrade

    done = upgrade(db)
    name = display_name(db)
    if done.created:
        click.echo(f"{name}: created at revision {done.after}")
    elif done.migrated:
        click.echo(f"{name}: migrated from revision {done.before or 'none (from before migrations)'} to {done.after}")
    else:
        click.echo(f"{name}: already at revision {done.after} (head)")


def main(args: list[str] | None = None) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from crawler.store.db import close_all, describe_failure

    try:
        cli.main(args=args, prog_name="evidence")
    except SQLAlchemyError as exc:
        # A database that changed under us, or one from another evidence version.
        click.echo(f"Error: {describe_failure(None, exc)}", err=True)
        sys.exit(EXIT_FAILURE)
    finally:
        close_all()
        # Every command has closed its files and committed by now. Without this the
        # interpreter's last collections scanned every object left (0.25 s after a
        # 10,000-URL crawl) only to free memory the process is about to give back.
        gc.freeze()


if __name__ == "__main__":
    main()
