"""Alembic's entry point for the evidence schema (``crawler/models.py``).

Run from :mod:`crawler.migrate`, which hands over an open connection (already inside
the transaction that holds the migration lock), so nothing here reads alembic.ini.
"""

from __future__ import annotations

from alembic import context

from crawler.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through crawler.migrate
    raise RuntimeError("evidence migrations run through crawler.migrate (evidence db upgrade), not the alembic command")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place: batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
