"""The records database's tables as queries see them; their history is in migrations/versions."""
from __future__ import annotations

from sqlalchemy import Boolean, Integer, String, Text, column, table

# The chain itself: one row per record, never updated; hash covers every column but seq (see chain.py).
records = table(
    "records",
    column("seq", Integer), column("record_id", String), column("kind", String), column("at", String),
    column("user_name", String), column("subject", String), column("body", Text), column("prev_hash", String),
    column("hash", String),
)
# One row: the last seq and hash. Appends lock it, so the chain grows one record at a time on every database.
chain_head = table("chain_head", column("id", Integer), column("seq", Integer), column("hash", String))

# Derived from the chain in the same transaction as each record, for the queue's filters: never trusted on its own.
answers = table(
    "answers",
    column("answer_id", String), column("seq", Integer), column("asked_at", String), column("user_name", String),
    column("question", Text), column("backend", String), column("model", String), column("doc_ids", Text),
    column("abstained", Boolean), column("state", String),
)
decisions = table(
    "decisions",
    column("decision_id", String), column("answer_id", String), column("seq", Integer), column("reviewer", String),
    column("decided_at", String), column("outcome", String),
)

# Mutable state, outside the chain: who may log in, and who is looking at which answer.
users = table(
    "users",
    column("name", String), column("role", String), column("password_hash", String), column("disabled", Boolean),
    column("created_at", String),
)
claims = table("claims", column("answer_id", String), column("reviewer", String), column("until", String))

# Access (migration 0002), mutable state outside the chain; each change to it is also recorded in the chain.
api_keys = table(
    "api_keys",
    column("key_id", String), column("user_name", String), column("key_hash", String), column("prefix", String),
    column("label", String), column("created_at", String), column("revoked_at", String),
    column("last_used_at", String),
)
group_members = table("group_members", column("group_name", String), column("user_name", String))
collection_grants = table(
    "collection_grants",
    column("grantee_kind", String), column("grantee", String), column("collection", String),
    column("granted_by", String), column("granted_at", String),
)
login_failures = table(
    "login_failures",
    column("user_name", String), column("failures", Integer), column("last_failure_at", String),
    column("locked_until", String),
)
