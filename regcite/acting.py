"""Who acts on the command line (--user or REGCITE_USER with a password once users exist, else the local user), and
the record book a command acts on."""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator


@contextlib.contextmanager
def record_book(settings) -> Iterator[object]:
    """The record book for one command, its connections closed when the command ends."""
    from rag.records.book import open_book

    book = open_book(settings)
    try:
        yield book
    finally:
        book.db.dispose()


def acting_user(args, settings, book):
    """The User the command acts as; a password is asked for only when users exist (there is none to check before)."""
    from rag.records.users import acting_user as resolve, list_users

    name = getattr(args, "user", None)  # None where a subcommand's parser is used alone
    password = read_password(f"password for {name}: ") if name and list_users(book) else None
    return resolve(book, settings, name, password)


def read_password(prompt: str, *, env: str = "REGCITE_PASSWORD", confirm: bool = False) -> str | None:
    """A password from $env, else typed at the terminal (twice with confirm), else one line of stdin; None if none."""
    if env and os.environ.get(env):
        return os.environ[env]
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        from rag.errors import ConfigError

        typed = getpass.getpass(prompt)
        if confirm and getpass.getpass("again: ") != typed:
            raise ConfigError("the two passwords differ; nothing was changed")
        return typed
    line = sys.stdin.readline() if sys.stdin is not None else ""
    return line.rstrip("\r\n") or None
