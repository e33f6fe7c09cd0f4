"""logins and setup tokens: page sign-ins as their own token kind, where logins came from,
the first-run setup token

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 07:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tapeworks.db.base

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'setup_tokens',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('created_at', tapeworks.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', tapeworks.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_setup_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_setup_tokens_token_hash')),
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('user_agent', sa.String(length=300), nullable=True))
        batch_op.drop_constraint(op.f('ck_api_tokens_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_api_tokens_kind'), "kind IN ('access', 'personal', 'web')")


def downgrade() -> None:
    op.execute("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP, kind = 'access' "
               "WHERE kind = 'web'")
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_api_tokens_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_api_tokens_kind'), "kind IN ('access', 'personal')")
        batch_op.drop_column('user_agent')
        batch_op.drop_column('address')
    op.drop_table('setup_tokens')
