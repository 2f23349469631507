"""Answer records, review decisions, users and claims.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("record_id", sa.String(36), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),  # ISO-8601 UTC with microseconds: sorts as text
        sa.Column("user_name", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(36), nullable=True),  # the answer a review decides
        sa.Column("body", sa.Text, nullable=False),  # canonical JSON: hashed as stored, so kept as text, not JSONB
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("records_by_kind", "records", ["kind", "at"])
    op.create_index("records_by_subject", "records", ["subject"])
    head = op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])
    op.create_table(
        "answers",
        sa.Column("answer_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False, unique=True),
        sa.Column("asked_at", sa.String(32), nullable=False),
        sa.Column("user_name", sa.String(200), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("backend", sa.String(64), nullable=False),
        sa.Column("model", sa.String(300), nullable=False),
        sa.Column("doc_ids", sa.Text, nullable=False),  # "|12 CFR 1002|GDPR|": LIKE '%|doc|%' finds a document
        sa.Column("abstained", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
    )
    op.create_index("answers_by_state", "answers", ["state", "asked_at"])
    op.create_index("answers_by_user", "answers", ["user_name", "asked_at"])
    op.create_table(
        "decisions",
        sa.Column("decision_id", sa.String(36), primary_key=True),
        sa.Column("answer_id", sa.String(36), nullable=False, index=True),
        sa.Column("seq", sa.Integer, nullable=False, unique=True),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("decided_at", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "claims",
        sa.Column("answer_id", sa.String(36), primary_key=True),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("until", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    for name in ("claims", "users", "decisions", "answers", "chain_head", "records"):
        op.drop_table(name)
