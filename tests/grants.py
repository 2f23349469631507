"""Test helper: let users read a collection, as an admin would with `regcite users grant`."""
from __future__ import annotations

from rag.records.grants import Grantee, add_member, grant, list_grants
from rag.records.users import LOCAL_USER

READERS = "readers"  # the group the helper puts users in


def let_read(book, *names: str, collection: str = "default") -> None:
    """Put each user in the READERS group and grant that group `collection` (once)."""
    for name in names:
        add_member(book, READERS, name, LOCAL_USER)
    if not any(g.grantee == READERS and g.collection == collection for g in list_grants(book)):
        grant(book, READERS, collection, LOCAL_USER, kind=Grantee.GROUP)
