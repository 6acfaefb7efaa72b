"""Notifications go out on news only, to a real SMTP server and a real webhook on 127.0.0.1;
a notifier that fails is reported and counted, and the run keeps its result."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Workspace
from tests.mockserver import MockServer
from tests.notifysinks import SMTP_PASSWORD, SMTP_USER, free_port, smtp_server, webhook_server

# AUTH without TLS is what a loopback test wants; aiosmtpd warns about it from its own thread.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def smtp_env(workspace: Workspace, port: int, **extra: str) -> dict[str, str]:
    settings = {
        "EVIDENCE_SMTP_HOST": "127.0.0.1",
        "EVIDENCE_SMTP_PORT": str(port),
        "EVIDENCE_SMTP_USER": SMTP_USER,
        "EVIDENCE_SMTP_PASSWORD": SMTP_PASSWORD,
        "EVIDENCE_SMTP_FROM": "evidence@example.org",
    }
    return workspace.env(**{**settings, **extra})


def cite(workspace: Workspace, site: MockServer, *pages: str) -> str:
    doc = workspace.path / "informe.md"
    doc.write_text("".join(f"{n} Disponible en {site.url(page)}\n" for n, page in enumerate(pages, 1)), encoding="utf-8")
    return str(doc)


def test_news_goes_to_the_webhook_and_by_email_and_nothing_goes_without_news(workspace: Workspace, site: MockServer):
    doc = cite(workspace, site, "/plan", "/nota", "/avance")
    with smtp_server() as (inbox, port), webhook_server() as (hooks, hook_url):
        env = smtp_env(workspace, port)
        args = ("--notify-webhook", hook_url, "--notify-email", "ops@example.org", "--json")
        first = workspace.crawl(doc, *args, env=env)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["notify_failures"] == 0
        assert hooks == [] and inbox.messages == [], "no news, no notification"

        site.set_version(2)
        second = workspace.crawl(*args, env=env)
        assert second.returncode == 1, second.stderr
        assert json.loads(second.stdout)["notify_failures"] == 0
        assert second.stderr == ""

    assert len(hooks) == 1
    hook = hooks[0]
    assert hook["path"] == "/hooks/T0KEN" and hook["content_type"] == "application/json"
    payload = hook["json"]
    assert payload["run"] == 2 and payload["status"] == "finished" and payload["urls"] == 3
    assert {(item["url"], item["kind"], item["reason"]) for item in payload["news"]} == {
        (site.url("/nota"), "gone", "http_404"),
        (site.url("/avance"), "changed", "text"),
    }
    assert {tuple(c.values()) for item in payload["news"] for c in item["cited_in"]} == {("informe.md", "2"), ("informe.md", "3")}

    assert inbox.logins == [SMTP_USER]
    (sender, recipients, message), = inbox.messages
    assert sender == "evidence@example.org" and recipients == ["ops@example.org"]
    assert message["Subject"] == "evidence: news in run 2 (1 changed, 1 gone)"
    body = message.get_payload(decode=True).decode()
    assert site.url("/nota") in body and site.url("/avance") in body
    assert site.url("/plan") not in body, "only the news is listed"
    assert "cited in informe.md note 2" in body


def test_failing_notifiers_are_reported_and_counted_and_the_run_keeps_its_result(workspace: Workspace, site: MockServer):
    doc = cite(workspace, site, "/status/410")
    closed = free_port()
    with webhook_server(status=500) as (hooks, hook_url):
        result = workspace.crawl(
            doc,
            "--notify-webhook", hook_url,
            "--notify-webhook", f"http://127.0.0.1:{closed}/secret-token",
            "--notify-email", "ops@example.org",
            "--json",
            env=smtp_env(workspace, closed),
        )
    assert result.returncode == 1, "the news still decides the exit code"
    summary = json.loads(result.stdout)
    assert summary["notify_failures"] == 3
    assert summary["news"][0]["url"] == site.url("/status/410")
    warnings = result.stderr.splitlines()
    assert len(hooks) == 1
    assert warnings[0] == (
        f"Warning: notification not sent: webhook http://127.0.0.1:{hook_url.split(':')[2].split('/')[0]}/... answered 500; "
        "the run's results are recorded"
    )
    assert warnings[1].startswith(f"Warning: notification not sent: webhook http://127.0.0.1:{closed}/... failed: ConnectionError")
    assert "secret-token" not in result.stderr, "hook URLs carry secrets: never printed"
    assert warnings[2].startswith(f"Warning: notification not sent: e-mail to ops@example.org through 127.0.0.1:{closed} failed:")
    assert SMTP_PASSWORD not in result.stderr
    status = json.loads(workspace.run("status", "--json").stdout)
    assert status[0]["state"] == "gone"


def test_settings_override_the_environment(workspace: Workspace, site: MockServer):
    doc = cite(workspace, site, "/status/404", "/nota")
    with smtp_server() as (inbox, port):
        env = smtp_env(workspace, port, EVIDENCE_SMTP_PASSWORD="wrong")
        refused = workspace.crawl(doc, "--notify-email", "ops@example.org", "-q", env=env)
        assert refused.returncode == 1
        assert refused.stderr.startswith(f"Warning: notification not sent: e-mail to ops@example.org through 127.0.0.1:{port} failed:")
        assert inbox.messages == []
        site.set_version(2)
        accepted = workspace.crawl("--notify-email", "ops@example.org", "-s", f"EVIDENCE_SMTP_PASSWORD={SMTP_PASSWORD}", env=env)
    assert accepted.returncode == 1 and accepted.stderr == ""
    (_, _, message), = inbox.messages
    assert site.url("/nota") in message.get_payload(decode=True).decode()


def test_a_database_password_never_reaches_a_webhook_or_an_inbox():
    """A PostgreSQL URL names its password; the notification names the database without it."""
    from crawler.notify import notify
    from crawler.runs.lifecycle import News, RunSummary

    news = News("https://www.gob.mx/informe", "gone", "gone", "http_404", "ok", (("informe.md", "3"),))
    summary = RunSummary(run_id=7, status="finished", targets=1, captured=1, news=[news])
    url = "postgresql://evidence:s3cr3t-pw@127.0.0.1:5432/evidence"
    with smtp_server() as (inbox, port), webhook_server() as (hooks, hook_url):
        settings = {
            "EVIDENCE_SMTP_HOST": "127.0.0.1", "EVIDENCE_SMTP_PORT": port, "EVIDENCE_SMTP_USER": SMTP_USER,
            "EVIDENCE_SMTP_PASSWORD": SMTP_PASSWORD, "EVIDENCE_SMTP_FROM": "evidence@example.org",
        }
        failures = notify(summary, url, webhooks=[hook_url], emails=["ops@example.org"], settings=settings)
    assert failures == []
    (hook,) = hooks
    assert hook["json"]["database"] == "postgresql://evidence:***@127.0.0.1:5432/evidence"
    ((_, _, message),) = inbox.messages
    text = message.get_payload(decode=True).decode()
    assert "s3cr3t-pw" not in json.dumps(hook["json"]) and "s3cr3t-pw" not in text
    assert "postgresql://evidence:***@127.0.0.1:5432/evidence" in text
