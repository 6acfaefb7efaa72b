"""Browser captures: ``captures.render``, ``render_error``, ``dom_filename``, ``dom_offset``;
``probes.render``.

Existing rows were not rendered and keep nulls.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('captures') as batch:
        batch.add_column(sa.Column('render', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('render_error', sa.Text(), nullable=True))
        batch.add_column(sa.Column('dom_filename', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('dom_offset', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('probes') as batch:
        batch.add_column(sa.Column('render', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('probes') as batch:
        batch.drop_column('render')
    with op.batch_alter_table('captures') as batch:
        batch.drop_column('dom_offset')
        batch.drop_column('dom_filename')
        batch.drop_column('render_error')
        batch.drop_column('render')
