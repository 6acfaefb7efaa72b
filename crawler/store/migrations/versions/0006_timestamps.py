"""Trusted time: ``timestamps``, one RFC 3161 token per row over a closed WARC file's or an
exported package's SHA-256. Files closed before are owed a token: the next crawl or
``evidence timestamp`` asks for one when a TSA is set.

Revision ID: 0006
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
# 0005 is being written alongside; the chain is joined when both are merged.
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'timestamps',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('filename', sa.Text(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('tsa_url', sa.Text(), nullable=False),
        sa.Column('reply', sa.LargeBinary(), nullable=False),
        sa.Column('stamped_time', sa.DateTime(), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_timestamps_file', 'timestamps', ['kind', 'filename'])


def downgrade() -> None:
    op.drop_index('ix_timestamps_file', table_name='timestamps')
    op.drop_table('timestamps')
