"""multitrack sessions, studio settings, speech assets

- `session_tracks`: the tracks of a multitrack session (one file per speaker), and
  `sessions.track_count` (0 for a recording uploaded as one file);
- `studio_settings`: a user's spoken edit marker and bleeps (defaults of every episode);
- assets spoken by a narrator from text: `origin`, `text`, `narrator`, the mirrored
  status of the job that makes them, and `key` empty until their audio exists.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 00:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tapeworks.db.base

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('studio_settings',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('edit_marker', sa.String(length=40), nullable=True),
    sa.Column('edit_marker_pause_seconds', sa.Float(), nullable=False),
    sa.Column('bleep_words', sa.JSON(), nullable=False),
    sa.Column('bleep_default_list', sa.Boolean(), nullable=False),
    sa.Column('bleep_mode', sa.String(length=8), nullable=False),
    sa.Column('created_at', tapeworks.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tapeworks.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("bleep_mode IN ('beep', 'mute')", name=op.f('ck_studio_settings_bleep_mode')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_studio_settings_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_studio_settings'))
    )
    op.create_table('session_tracks',
    sa.Column('session_id', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('offset_seconds', sa.Float(), nullable=False),
    sa.Column('key', sa.String(length=400), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('format', sa.String(length=32), nullable=False),
    sa.Column('codec', sa.String(length=32), nullable=False),
    sa.Column('channels', sa.Integer(), nullable=False),
    sa.Column('sample_rate', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('duration_seconds', sa.Float(), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', tapeworks.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tapeworks.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('offset_seconds >= 0', name=op.f('ck_session_tracks_offset_positive')),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_session_tracks_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_tracks')),
    sa.UniqueConstraint('session_id', 'position', name='uq_session_tracks_session_position')
    )
    with op.batch_alter_table('session_tracks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_tracks_session_id'), ['session_id'], unique=False)

    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=16), server_default='upload', nullable=False))
        batch_op.add_column(sa.Column('text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('narrator', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=16), server_default='completed', nullable=False))
        batch_op.add_column(sa.Column('current_job_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('progress_percentage', sa.Float(), server_default='100', nullable=False))
        batch_op.add_column(sa.Column('stage', sa.String(length=64), server_default='completed', nullable=False))
        batch_op.add_column(sa.Column('message', sa.String(length=500), server_default='', nullable=False))
        batch_op.add_column(sa.Column('eta_seconds', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('attempt', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('error_stage', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('completed_at', tapeworks.db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.alter_column('key',
               existing_type=sa.VARCHAR(length=400),
               nullable=True)
        batch_op.create_check_constraint(batch_op.f('ck_assets_origin'), "origin IN ('upload', 'speech')")
        batch_op.create_check_constraint(
            batch_op.f('ck_assets_status'),
            "status IN ('queued', 'processing', 'completed', 'failed', 'cancelled')")

    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('track_count', sa.Integer(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('track_count')

    op.execute("DELETE FROM assets WHERE key IS NULL")  # speech assets that never got audio
    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_assets_status'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_assets_origin'), type_='check')
        batch_op.alter_column('key',
               existing_type=sa.VARCHAR(length=400),
               nullable=False)
        batch_op.drop_column('completed_at')
        batch_op.drop_column('error_stage')
        batch_op.drop_column('error')
        batch_op.drop_column('attempt')
        batch_op.drop_column('eta_seconds')
        batch_op.drop_column('message')
        batch_op.drop_column('stage')
        batch_op.drop_column('progress_percentage')
        batch_op.drop_column('current_job_id')
        batch_op.drop_column('status')
        batch_op.drop_column('narrator')
        batch_op.drop_column('text')
        batch_op.drop_column('origin')

    with op.batch_alter_table('session_tracks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_tracks_session_id'))

    op.drop_table('session_tracks')
    op.drop_table('studio_settings')
