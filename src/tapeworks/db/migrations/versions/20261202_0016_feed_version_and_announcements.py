"""feed version and announcements: a counter of the changes to a show's feed (its ETag),
when a publication's `episode.published` was recorded, and the index of the feed's ETag query

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 10:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tapeworks.db.base

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shows", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("feed_version", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("announced_at", tapeworks.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_publications_show_state_publish_at",
            ["show_id", "state", "publish_at"],
            unique=False,
        )
    # Items already in their feed were announced when they were published; a scheduled
    # one is announced once its time has passed.
    op.execute(
        "UPDATE publications SET announced_at = published_at WHERE state = 'published' "
        "AND (publish_at IS NULL OR publish_at <= CURRENT_TIMESTAMP)"
    )


def downgrade() -> None:
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.drop_index("ix_publications_show_state_publish_at")
        batch_op.drop_column("announced_at")
    with op.batch_alter_table("shows", schema=None) as batch_op:
        batch_op.drop_column("feed_version")
