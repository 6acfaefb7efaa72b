"""A database left at an older schema revision, holding one document that cites one URL:
what `evidence db upgrade` is tested on (SQLite, or a database of the test PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Workspace

URL = "http://127.0.0.1:9/a"


def database_at(revision: str, tmp_path: Path, request: pytest.FixtureRequest, server: str, markdown: str) -> tuple[Workspace, Any]:
    """A workspace whose database is at ``revision``, with ``informe.md`` (``markdown``,
    citing ``URL`` in note 1) recorded as that revision's schema held it; and its engine."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from crawler.store.db import database_url
    from crawler.store.migrate import _config

    url = request.getfixturevalue("postgres").create_database() if server == "postgresql" else str(tmp_path / "old.db")
    workspace = Workspace(tmp_path, db_url=url)
    engine = create_engine(database_url(url))
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)
    document = tmp_path / "informe.md"
    document.write_text(markdown, encoding="utf-8")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO documents (id, name, title, date, imported_at) VALUES (1, :name, '', '', :now)"),
                           {"name": str(document), "now": "2020-01-01 00:00:00"})
        connection.execute(text("INSERT INTO targets (id, url) VALUES (1, :url)"), {"url": URL})
        connection.execute(text("INSERT INTO citations (document_id, target_id, position, footnote, url_as_written,"
                                " normalized_url, context, line) VALUES (1, 1, 0, '1', :url, '', '', 3)"), {"url": URL})
    return workspace, engine
