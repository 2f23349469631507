"""API keys, groups, collection grants and failed logins.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(36), primary_key=True),
        sa.Column("user_name", sa.String(200), nullable=False, index=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),  # sha256 of the secret, never the secret
        sa.Column("prefix", sa.String(16), nullable=False),  # the first characters, so a user can tell keys apart
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32), nullable=True),
        sa.Column("last_used_at", sa.String(32), nullable=True),
    )
    op.create_table(
        "group_members",
        sa.Column("group_name", sa.String(200), primary_key=True),
        sa.Column("user_name", sa.String(200), primary_key=True),
    )
    op.create_table(
        "collection_grants",
        sa.Column("grantee_kind", sa.String(8), primary_key=True),  # "user" or "group"
        sa.Column("grantee", sa.String(200), primary_key=True),
        sa.Column("collection", sa.String(200), primary_key=True),
        sa.Column("granted_by", sa.String(200), nullable=False),
        sa.Column("granted_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "login_failures",
        sa.Column("user_name", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", sa.String(32), nullable=False),
        sa.Column("locked_until", sa.String(32), nullable=True),
    )


def downgrade() -> None:
    for name in ("login_failures", "collection_grants", "group_members", "api_keys"):
        op.drop_table(name)
