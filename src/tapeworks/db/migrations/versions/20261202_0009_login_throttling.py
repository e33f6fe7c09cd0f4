"""login throttling: failed sign-ins per account and address, the owner's notice

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:20:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tapeworks.db.base

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'login_failures',
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('failed_at', tapeworks.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures')),
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index('ix_login_failures_address_failed_at', ['address', 'failed_at'],
                              unique=False)
        batch_op.create_index('ix_login_failures_email_address_failed_at',
                              ['email', 'address', 'failed_at'], unique=False)
        batch_op.create_index('ix_login_failures_failed_at', ['failed_at'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('last_failed_login_at',
                                      tapeworks.db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_failed_login_address', sa.String(length=64),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('last_failed_login_address')
        batch_op.drop_column('last_failed_login_at')
        batch_op.drop_column('failed_logins')
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failures_failed_at')
        batch_op.drop_index('ix_login_failures_email_address_failed_at')
        batch_op.drop_index('ix_login_failures_address_failed_at')
    op.drop_table('login_failures')
