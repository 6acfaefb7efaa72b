"""What a server's TLS certificate said, and what was wrong with it.

Reachability comes first, so certificates are not verified when fetching; the leaf
certificate the server presented is recorded instead, with the problems that can be read
off it alone: expired, not yet valid, self-signed, or issued for another host.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


@dataclass(frozen=True)
class Certificate:
    sha256: str
    subject: str
    issuer: str
    not_after: str
    problems: tuple[str, ...]
    pem: str


def _names(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return san.get_values_for_type(x509.DNSName), [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]


def _host_matches(host: str, dns_names: list[str], ips: list[str]) -> bool:
    try:
        return str(ipaddress.ip_address(host.strip("[]"))) in ips
    except ValueError:
        pass
    host = host.lower().rstrip(".")
    for name in (n.lower().rstrip(".") for n in dns_names):
        if name == host or (name.startswith("*.") and host.partition(".")[2] == name[2:] and "." in name[2:]):
            return True
    return False


def inspect_certificate(der: bytes, host: str, at: datetime | None = None) -> Certificate | None:
    """The certificate's identity and problems, or None if it cannot be parsed."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    now = at or datetime.now(timezone.utc)
    problems = []
    if cert.not_valid_after_utc < now:
        problems.append("expired")
    if cert.not_valid_before_utc > now:
        problems.append("not_yet_valid")
    if cert.issuer == cert.subject:
        problems.append("self_signed")
    dns_names, ips = _names(cert)
    if not _host_matches(host, dns_names, ips):
        problems.append("wrong_host")
    return Certificate(
        sha256=hashlib.sha256(der).hexdigest(),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_after=cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        problems=tuple(problems),
        pem=cert.public_bytes(Encoding.PEM).decode("ascii"),
    )
