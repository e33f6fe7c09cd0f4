"""episode version stored bytes: what each completed render keeps in the store (audio,
re-timed transcript, edit list), counted towards the plan's storage

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("episode_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stored_bytes", sa.BigInteger(), nullable=True))
    # renders made before this counted nothing; from now on their audio counts (the two
    # JSON files beside it are small and were not measured)
    op.execute("UPDATE episode_versions SET stored_bytes = size_bytes WHERE completed")


def downgrade() -> None:
    with op.batch_alter_table("episode_versions", schema=None) as batch_op:
        batch_op.drop_column("stored_bytes")
