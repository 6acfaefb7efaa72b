"""Under cron: the crontab of docs/cron.md, run as cron runs it; silence without news; progress only
on a terminal; newly unreachable URLs reported without failing the run."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import stat
import subprocess
import sys

from tests.conftest import FAST, ROOT, Workspace
from tests.mockserver import MockServer
from tests.notifysinks import SMTP_PASSWORD, SMTP_USER, smtp_server

pytestmark = __import__("pytest").mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def readme_crontab() -> tuple[dict[str, str], str]:
    """The environment lines and the command of the crontab in docs/cron.md."""
    readme = (ROOT / "docs" / "cron.md").read_text(encoding="utf-8")
    block = re.search(r"```crontab\n(.*?)```", readme, re.DOTALL)
    assert block, "docs/cron.md has a ```crontab block"
    env: dict[str, str] = {}
    command = ""
    for line in block.group(1).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if re.match(r"^[A-Z_]+=", line):
            name, _, value = line.partition("=")
            env[name] = value
        else:
            command = line.split(None, 5)[5]  # after minute, hour, day, month, weekday
    return env, command


def test_the_readme_crontab_line_is_silent_without_news_and_reports_news(workspace: Workspace, site: MockServer):
    env_lines, command = readme_crontab()
    assert command == "cd /srv/evidence && .venv/bin/evidence crawl -q --notify-email ops@example.org >> crawl.log 2>&1"
    # The installed program, as the README's set-up makes it, in the workspace's .venv.
    program = workspace.path / ".venv" / "bin" / "evidence"
    program.parent.mkdir(parents=True)
    program.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "cli.py"}" "$@"\n')
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    doc = workspace.path / "informe.md"
    doc.write_text(f"1 {site.url('/plan')}\n2 {site.url('/nota')}\n", encoding="utf-8")
    cwd_env = {k: v for k, v in workspace.env().items() if not k.startswith("EVIDENCE_")}
    assert workspace.run("import", str(doc), env=cwd_env).returncode == 0
    log = workspace.path / "crawl.log"

    with smtp_server() as (inbox, port):
        # What cron gives a job: a bare environment plus the crontab's own variables;
        # the mail server is the test's.
        cron_env = {"PATH": "/usr/bin:/bin", "HOME": str(workspace.path), "SHELL": "/bin/sh", "LOGNAME": "evidence"}
        cron_env |= env_lines | {
            # the scripted site is on 127.0.0.1, which evidence refuses by default
            "EVIDENCE_ALLOW_PRIVATE": "1",
            # no web archive lookups (Workspace.env): the Wayback Machine is never asked
            "EVIDENCE_ARCHIVES": "",
            "EVIDENCE_SMTP_HOST": "127.0.0.1",
            "EVIDENCE_SMTP_PORT": str(port),
            "EVIDENCE_SMTP_STARTTLS": "false",
            "EVIDENCE_SMTP_USER": SMTP_USER,
            "EVIDENCE_SMTP_PASSWORD": SMTP_PASSWORD,
        }
        line = command.replace("/srv/evidence", str(workspace.path))

        def cron() -> subprocess.CompletedProcess[str]:
            return subprocess.run(["/bin/sh", "-c", line], env=cron_env, capture_output=True, text=True, timeout=120)

        quiet = cron()
        assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
        assert log.read_text() == "", "no news: nothing in the log and no mail"
        assert inbox.messages == []

        site.set_version(2)
        news = cron()
    assert news.returncode == 1
    logged = log.read_text()
    assert logged.startswith("run 2 finished: 2 URLs checked (1 gone, 1 ok)\nnews since the previous run:\n")
    assert f"  gone        http_404         {site.url('/nota')}" in logged
    (_, recipients, message), = inbox.messages
    assert recipients == ["ops@example.org"]
    assert site.url("/nota") in message.get_payload(decode=True).decode()


def test_newly_unreachable_is_news_but_not_exit_1(workspace: Workspace, site: MockServer):
    doc = workspace.path / "informe.md"
    doc.write_text(f"1 {site.url('/intermitente')}\n2 {site.url('/plan')}\n", encoding="utf-8")
    assert workspace.crawl(str(doc), "-q").stdout == ""
    site.set_version(2)
    result = workspace.crawl("-q", "-s", "RETRY_TIMES=0")
    assert result.returncode == 0, "down is not gone: exit 1 is kept for changes, moves, removals and returns"
    assert result.stdout == (
        "run 2 finished: 2 URLs checked (1 ok, 1 unreachable)\n"
        "news since the previous run:\n"
        f"  unreachable http_503         {site.url('/intermitente')}\n"
    )
    still = workspace.crawl("-q", "--json", "-s", "RETRY_TIMES=0")
    assert json.loads(still.stdout)["news"] == [], "still down is not news again"


def test_verbose_logs_on_stderr(workspace: Workspace, site: MockServer):
    doc = workspace.path / "informe.md"
    doc.write_text(f"1 {site.url('/plan')}\n", encoding="utf-8")
    result = workspace.crawl(str(doc), "-v")
    assert result.returncode == 0
    assert f"INFO crawler.crawl.pipeline: ok {site.url('/plan')} (first_capture)" in result.stderr
    assert "DEBUG" not in result.stderr
    assert "DEBUG" in workspace.crawl(str(doc), "-vv").stderr


def run_on_a_terminal(workspace: Workspace, *args: str) -> tuple[int, str]:
    """Run a crawl whose stderr is a terminal; return its exit code and what the terminal showed."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "crawl", *FAST, *args],
        cwd=workspace.path, env=workspace.env(), stdout=subprocess.DEVNULL, stderr=slave,
    )
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the crawl ended
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return process.wait(timeout=60), shown.decode()


def test_progress_is_shown_on_a_terminal_only(workspace: Workspace, site: MockServer):
    doc = workspace.path / "informe.md"
    doc.write_text(f"1 {site.url('/plan')}\n2 {site.url('/slow?s=1.5')}\n", encoding="utf-8")
    code, shown = run_on_a_terminal(workspace, str(doc))
    assert code == 0
    assert re.search(r"\r[01]/2 URLs  \d+\.\d/min  127\.0\.0\.1:\d+", shown), shown
    assert re.search(r"\r2/2 URLs  \d+\.\d/min\s*\r?\n", shown), shown
    code, shown = run_on_a_terminal(workspace, str(doc), "-q")
    assert code == 0 and shown == "", "-q: silent even on a terminal"
    piped = workspace.crawl(str(doc))
    assert piped.stderr == "", "not a terminal (cron, a pipe): no progress"
