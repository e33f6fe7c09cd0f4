"""generic job owners, pools, run_after; job kinds checked by the registry

Jobs no longer point at sessions or episodes by foreign key: `owner_kind`/`owner_id` say
what a job works for (or nothing), the services delete an owner's jobs with it, and the
kind is no longer a CHECK constraint (a new kind is a change inside its own domain).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tapeworks.db.base

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pool', sa.String(length=8), nullable=False, server_default='long'))
        batch_op.add_column(sa.Column('owner_kind', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('owner_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('run_after', tapeworks.db.base.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE jobs SET owner_kind = 'session', owner_id = session_id WHERE session_id IS NOT NULL")
    op.execute("UPDATE jobs SET owner_kind = 'episode', owner_id = episode_id WHERE episode_id IS NOT NULL")
    op.execute("UPDATE jobs SET run_after = enqueued_at")
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_jobs_session_id_sessions'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_jobs_episode_id_episodes'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('ck_jobs_kind'), type_='check')
        batch_op.drop_index(batch_op.f('ix_jobs_session_id'))
        batch_op.drop_index(batch_op.f('ix_jobs_episode_id'))
        batch_op.drop_column('session_id')
        batch_op.drop_column('episode_id')
        batch_op.alter_column('pool', server_default=None)
        batch_op.alter_column('user_id', existing_type=sa.String(length=32), nullable=True)
        batch_op.create_check_constraint(batch_op.f('ck_jobs_pool'), "pool IN ('long', 'short')")
        batch_op.create_index('ix_jobs_owner', ['owner_kind', 'owner_id'], unique=False)
        batch_op.create_index('ix_jobs_status_run_after', ['status', 'run_after'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('episode_id', sa.String(length=32), nullable=True))
    op.execute("UPDATE jobs SET session_id = owner_id WHERE owner_kind = 'session'")
    op.execute("UPDATE jobs SET episode_id = owner_id WHERE owner_kind = 'episode'")
    op.execute("DELETE FROM jobs WHERE user_id IS NULL OR kind NOT IN ('transcribe', 'render_episode')")
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_status_run_after')
        batch_op.drop_index('ix_jobs_owner')
        batch_op.drop_constraint(batch_op.f('ck_jobs_pool'), type_='check')
        batch_op.alter_column('user_id', existing_type=sa.String(length=32), nullable=False)
        batch_op.drop_column('run_after')
        batch_op.drop_column('owner_id')
        batch_op.drop_column('owner_kind')
        batch_op.drop_column('pool')
        batch_op.create_check_constraint(batch_op.f('ck_jobs_kind'), "kind IN ('transcribe', 'render_episode')")
        batch_op.create_index(batch_op.f('ix_jobs_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_episode_id'), ['episode_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_jobs_session_id_sessions'), 'sessions', ['session_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key(batch_op.f('fk_jobs_episode_id_episodes'), 'episodes', ['episode_id'], ['id'], ondelete='CASCADE')
