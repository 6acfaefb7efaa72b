"""Fingerprints with their basis, a boilerplate fingerprint, and learned noise per target.

``captures.basis`` names the rules a fingerprint was made under; rows from before it are
NULL and are re-extracted from their WARC record before being compared with a new one
(see ``crawler/verdicts/fingerprint.py``), so upgrading changes no verdict by itself.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('captures', sa.Column('basis', sa.String(length=64), nullable=True))
    op.add_column('captures', sa.Column('boilerplate', sa.String(length=80), nullable=True))
    op.add_column('targets', sa.Column('noise', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('targets') as batch:
        batch.drop_column('noise')
    with op.batch_alter_table('captures') as batch:
        batch.drop_column('boilerplate')
        batch.drop_column('basis')
