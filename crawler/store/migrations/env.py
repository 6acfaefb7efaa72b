"""Alembic's entry point for the evidence schema (``crawler/store/models.py``).

Run from :mod:`crawler.store.migrate`, which hands over an open connection (already inside
the transaction that holds the migration lock), so nothing here reads alembic.ini.
"""

from __future__ import annotations

from alembic import context

from crawler.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through crawler.store.migrate
    raise RuntimeError("evidence migrations run through crawler.store.migrate (evidence db upgrade), not the alembic command")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place: batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
