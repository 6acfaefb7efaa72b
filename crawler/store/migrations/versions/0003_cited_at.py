"""When each citation was made: ``citations.cited_at`` and where that date came from.

Rows from before this revision have neither; importing their document again fills them in.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('citations', sa.Column('cited_at', sa.Date(), nullable=True))
    op.add_column('citations', sa.Column('cited_at_source', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('citations') as batch:
        batch.drop_column('cited_at_source')
        batch.drop_column('cited_at')
