"""Pinned passages (``pins``) and whether each capture held them (``pin_results``).

Both tables are new: upgrading changes no row, and databases without pins behave as before.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pins',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('document_id', sa.Integer(), nullable=True),
        sa.Column('footnote', sa.String(length=64), nullable=True),
        sa.Column('quote', sa.Text(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('origin', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('removed_at', sa.DateTime(), nullable=True),
        sa.Column('removed_note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['target_id'], ['targets.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_pins_target', 'pins', ['target_id'], unique=False)
    op.create_table(
        'pin_results',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pin_id', sa.Integer(), nullable=False),
        sa.Column('capture_id', sa.Integer(), nullable=True),
        sa.Column('checked_at', sa.DateTime(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('score', sa.Float(), nullable=True),
        sa.Column('matched', sa.Text(), nullable=True),
        sa.Column('start', sa.Integer(), nullable=True),
        sa.Column('end', sa.Integer(), nullable=True),
        sa.Column('differs', sa.JSON(), nullable=False),
        sa.Column('nearest', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['capture_id'], ['captures.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['pin_id'], ['pins.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('pin_id', 'capture_id'),
    )
    op.create_index('ix_pin_results_capture', 'pin_results', ['capture_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_pin_results_capture', table_name='pin_results')
    op.drop_table('pin_results')
    op.drop_index('ix_pins_target', table_name='pins')
    op.drop_table('pins')
