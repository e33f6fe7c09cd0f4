"""episode versions: every render of an episode is kept as version n (issue 11)

- `episode_versions`: one row per render (job), its files and whether it completed;
- `episodes.version`: the newest completed version (the one the episode's keys name).
Completed episodes become version 1 of themselves.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 08:05:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tapeworks.db.base

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('episode_versions',
    sa.Column('episode_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=True),
    sa.Column('completed', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('audio_key', sa.String(length=400), nullable=True),
    sa.Column('transcript_key', sa.String(length=400), nullable=True),
    sa.Column('edit_list_key', sa.String(length=400), nullable=True),
    sa.Column('duration_seconds', sa.Float(), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('loudness', sa.JSON(), nullable=True),
    sa.Column('cuts_summary', sa.JSON(), nullable=True),
    sa.Column('completed_at', tapeworks.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', tapeworks.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tapeworks.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['episode_id'], ['episodes.id'], name=op.f('fk_episode_versions_episode_id_episodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_episode_versions')),
    sa.UniqueConstraint('episode_id', 'version', name='uq_episode_versions_number')
    )
    with op.batch_alter_table('episode_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_episode_versions_episode_id'), ['episode_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_episode_versions_job_id'), ['job_id'], unique=False)

    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='0', nullable=False))

    # a completed episode is version 1 of itself (its files stay where they are)
    op.execute(
        "INSERT INTO episode_versions (id, episode_id, version, job_id, completed, format, "
        "audio_key, transcript_key, edit_list_key, duration_seconds, size_bytes, loudness, "
        "cuts_summary, completed_at, created_at, updated_at) "
        "SELECT id, id, 1, current_job_id, true, format, audio_key, transcript_key, "
        "edit_list_key, duration_seconds, size_bytes, loudness, cuts_summary, completed_at, "
        "created_at, updated_at FROM episodes WHERE audio_key IS NOT NULL")
    op.execute("UPDATE episodes SET version = 1 WHERE audio_key IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.drop_column('version')
    with op.batch_alter_table('episode_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_episode_versions_job_id'))
        batch_op.drop_index(batch_op.f('ix_episode_versions_episode_id'))
    op.drop_table('episode_versions')
