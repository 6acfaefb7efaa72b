"""Pins checked on the citation-time memento: ``pin_results.memento_id``.

A result is of a capture of ours or of a web archive's memento of a cited date (what the
page said when it was cited). Existing rows are all of captures and keep a null memento.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pin_results') as batch:
        batch.add_column(sa.Column('memento_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_pin_results_memento_id_mementos', 'mementos', ['memento_id'], ['id'], ondelete='CASCADE')
        batch.create_unique_constraint('uq_pin_results_pin_memento', ['pin_id', 'memento_id'])
        batch.create_index('ix_pin_results_memento', ['memento_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pin_results') as batch:
        batch.drop_index('ix_pin_results_memento')
        batch.drop_constraint('uq_pin_results_pin_memento', type_='unique')
        batch.drop_constraint('fk_pin_results_memento_id_mementos', type_='foreignkey')
        batch.drop_column('memento_id')
