"""Send the news by e-mail through an SMTP server (``--notify-email``).

The server and credentials come from the ``EVIDENCE_SMTP_*`` settings: ``-s NAME=VALUE``
wins, then the environment variable of the same name, then ``crawler/settings.py``.
Credentials belong in the environment (a crontab line, a service's environment file):
a ``-s`` value is visible to every user in the process list.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from crawler import settings as defaults
from crawler.exceptions import NotifyError

NAMES = (
    "EVIDENCE_SMTP_HOST", "EVIDENCE_SMTP_PORT", "EVIDENCE_SMTP_USER", "EVIDENCE_SMTP_PASSWORD",
    "EVIDENCE_SMTP_FROM", "EVIDENCE_SMTP_STARTTLS", "EVIDENCE_NOTIFY_TIMEOUT",
)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str
    password: str
    sender: str
    starttls: bool
    timeout: float

    @classmethod
    def resolve(cls, overrides: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> SmtpSettings:
        env = os.environ if environ is None else environ

        def value(name: str) -> Any:
            if name in overrides:
                return overrides[name]
            return env.get(name, getattr(defaults, name))

        try:
            port = int(value("EVIDENCE_SMTP_PORT"))
            timeout = float(value("EVIDENCE_NOTIFY_TIMEOUT"))
        except ValueError as exc:
            raise NotifyError(f"EVIDENCE_SMTP_PORT and EVIDENCE_NOTIFY_TIMEOUT must be numbers: {exc}") from exc
        return cls(
            host=str(value("EVIDENCE_SMTP_HOST")),
            port=port,
            user=str(value("EVIDENCE_SMTP_USER")),
            password=str(value("EVIDENCE_SMTP_PASSWORD")),
            sender=str(value("EVIDENCE_SMTP_FROM")) or f"evidence@{socket.getfqdn()}",
            starttls=_flag(value("EVIDENCE_SMTP_STARTTLS")),
            timeout=timeout,
        )


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def send_mail(smtp: SmtpSettings, to: str, subject: str, text: str) -> None:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
    message.set_content(text)
    where = f"{smtp.host}:{smtp.port}"
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context())
            if smtp.user:
                client.login(smtp.user, smtp.password)
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NotifyError(f"e-mail to {to} through {where} failed: {detail}") from exc
