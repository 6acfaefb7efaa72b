"""The citation-time copy: ``mementos`` (one row per lookup of a cited URL and date in the
web archives) and ``records.memento_id`` (the WARC records of a lookup's exchanges).

Existing rows are untouched; the next crawl looks up every cited URL with a cited date.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'mementos',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('cited_at', sa.Date(), nullable=False),
        sa.Column('looked_up_at', sa.DateTime(), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('archive', sa.Text(), nullable=True),
        sa.Column('memento_url', sa.Text(), nullable=True),
        sa.Column('raw_url', sa.Text(), nullable=True),
        sa.Column('memento_datetime', sa.DateTime(), nullable=True),
        sa.Column('original_url', sa.Text(), nullable=True),
        sa.Column('http_status', sa.Integer(), nullable=True),
        sa.Column('content_type', sa.Text(), nullable=True),
        sa.Column('payload_digest', sa.String(length=80), nullable=True),
        sa.Column('fingerprint', sa.String(length=80), nullable=True),
        sa.Column('basis', sa.String(length=64), nullable=True),
        sa.Column('signals', sa.JSON(), nullable=False),
        sa.Column('skipped', sa.JSON(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('warc_filename', sa.String(length=255), nullable=True),
        sa.Column('warc_offset', sa.BigInteger(), nullable=True),
        sa.Column('warc_length', sa.BigInteger(), nullable=True),
        sa.Column('payload_filename', sa.String(length=255), nullable=True),
        sa.Column('payload_offset', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id']),
        sa.ForeignKeyConstraint(['target_id'], ['targets.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_mementos_target_cited', 'mementos', ['target_id', 'cited_at'])
    with op.batch_alter_table('records') as batch:
        batch.add_column(sa.Column('memento_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_records_memento_id_mementos', 'mementos', ['memento_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    with op.batch_alter_table('records') as batch:
        batch.drop_constraint('fk_records_memento_id_mementos', type_='foreignkey')
        batch.drop_column('memento_id')
    op.drop_index('ix_mementos_target_cited', table_name='mementos')
    op.drop_table('mementos')
