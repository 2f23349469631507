"""Who may read what: the collections a caller may read, turned into the filters every entry point retrieves with
and the view of the index it lists from. Admins (and the local user while no users exist) read everything; anyone
else reads the collections granted to them or to a group they are in, and nothing without a grant (fail closed)."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from rag.errors import ConfigError
from rag.types import Filters

MAX_NAME = 200  # the width of the grant columns (records migration 0002)


def check_label(name: str, what: str = "collection") -> str:
    """A collection, group or user name as stored: 1-200 printable characters, NFC (shown as text, never markup)."""
    name = unicodedata.normalize("NFC", name.strip())
    if not name or len(name) > MAX_NAME or any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ConfigError(f"a {what} name is 1-{MAX_NAME} printable characters; got {name!r}")
    return name


@dataclass(frozen=True)
class Access:
    """One caller's reach: `collections` None for every collection, else exactly those (empty: none)."""

    user: str
    collections: frozenset[str] | None

    @property
    def everything(self) -> bool:
        return self.collections is None

    def filters(self, filters: Filters = Filters()) -> Filters:
        """The caller's filters, narrowed to what they may read (never widened)."""
        return filters.within(self.collections)

    def view(self, index):
        """The index as this caller may list it (the library, `docs`, `diff`, source views): the index itself for
        everything, else an IndexView of the readable versions only."""
        if self.collections is None:
            return index
        from rag.index_view import IndexView

        return IndexView(index, self.collections)


def access_for(book, user) -> Access:
    """The reach of a rag.records.users.User, read from the grants now (a revoke counts from the next call)."""
    from rag.records.users import Role

    if user.local or (user.role is Role.ADMIN and not user.disabled):
        return Access(user.name, None)
    if user.disabled:
        return Access(user.name, frozenset())
    from rag.records.grants import granted_collections

    return Access(user.name, granted_collections(book, user.name))


def reader_filters(book, user, filters: Filters = Filters()) -> Filters:
    """What every entry point (CLI, app, eval runs, the LlamaIndex adapters, the HTTP API) retrieves with: `filters`
    narrowed to the collections `user` may read. Retrieval applies them inside its position mask, so a clause of
    another collection never reaches a hit list, a prompt, a score, a count or an abstention message."""
    return access_for(book, user).filters(filters)
