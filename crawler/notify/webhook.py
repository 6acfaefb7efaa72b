"""POST the news as JSON to a URL (a chat hook, a ticket system, a small script)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from crawler import __version__
from crawler.exceptions import NotifyError


def shown(url: str) -> str:
    """The URL without path, query and credentials: hook URLs often embed their secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/..."


def post_json(url: str, payload: dict[str, Any], *, timeout: float) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        raise NotifyError(f"webhook {url!r} is not an http or https URL")
    import requests  # only when there is news to post: it costs every crawl 6 MB otherwise

    try:
        response = requests.post(
            url, json=payload, timeout=timeout, headers={"User-Agent": f"evidence/{__version__}"}, allow_redirects=False
        )
        response.raise_for_status()
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "an error"
        raise NotifyError(f"webhook {shown(url)} answered {status}") from exc
    except requests.RequestException as exc:
        raise NotifyError(f"webhook {shown(url)} failed: {type(exc).__name__}") from exc
