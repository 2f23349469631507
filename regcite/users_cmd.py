"""`regcite users add|list|disable`: who may ask, review and administer (the first user is an admin).

API keys (`users key|keys|revoke-key`) live in `users_keys.py`, groups and collection grants (`users grant|...`) in
`users_grants.py`; each module declares its actions in `add_actions(sub)` and handles them in `ACTIONS`.
"""
from __future__ import annotations

import importlib
import json

# modules adding actions to `regcite users`, each with add_actions(sub) and ACTIONS = {action: fn(book, args, by)}
EXTENSIONS = ("users_keys", "users_grants")

ROLES = ("asker", "reviewer", "admin")


def add_arguments(name: str, parser) -> None:
    sub = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add a user (the first must be an admin; after that admins add users); the "
                                     "new password is typed twice at the terminal, or read as one line of stdin")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, choices=ROLES)
    listing = sub.add_parser("list", help="every user with role, state and creation time (admins only)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    disable = sub.add_parser("disable", help="refuse a user's logins from now on (their records stay)")
    disable.add_argument("name", metavar="NAME")
    for module in _extensions():
        module.add_actions(sub)


def _extensions():
    return [importlib.import_module(f"regcite.{name}") for name in EXTENSIONS]


def run(name: str, args, settings) -> int:
    from rag.records.users import LOCAL_USER, list_users
    from regcite.acting import acting_user, record_book

    with record_book(settings) as book:
        if args.users_command == "add" and not list_users(book):
            by = LOCAL_USER  # the first user: there is nobody to log in as yet, whatever `auth` says
        else:
            by = acting_user(args, settings, book)
        actions = {"add": _add, "list": _list, "disable": _disable}
        for module in _extensions():
            actions.update(module.ACTIONS)
        return actions[args.users_command](book, args, by)


def require_admin(by, doing: str) -> None:
    from rag.errors import PermissionDenied
    from rag.records.users import Role

    if by.role is not Role.ADMIN:
        raise PermissionDenied(f"{by.name} is {by.role.value}: only admins {doing}")


def _add(book, args, by) -> int:
    from rag.errors import ConfigError
    from rag.records.users import Role, add_user
    from regcite.acting import read_password

    require_admin(by, "add users")  # before the new password is typed; the core checks again
    password = read_password(f"password for the new user {args.name}: ", env="", confirm=True)
    if not password:
        raise ConfigError(f"no password for {args.name}: type it at the prompt or give it as one line of stdin")
    user = add_user(book, args.name, Role(args.role), password, by=by)
    print(f"added {user.role.value} {user.name} (by {by.name})")
    return 0


def _disable(book, args, by) -> int:
    from rag.records.users import disable_user

    disable_user(book, args.name, by=by)
    print(f"disabled {args.name} (by {by.name}); their records stay")
    return 0


def _list(book, args, by) -> int:
    from rag.records.users import list_users

    require_admin(by, "list users")
    users = list_users(book)
    if args.json:
        print(json.dumps([{"name": u.name, "role": u.role.value, "disabled": u.disabled, "created_at": u.created_at}
                          for u in users], ensure_ascii=False, indent=2))
        return 0
    if not users:
        print("no users: regcite acts as the local user; add an admin with `regcite users add NAME --role admin`")
        return 0
    width = max(len(u.name) for u in users)
    for u in users:
        print(f"{u.name.ljust(width)}  {u.role.value:8}  {'disabled' if u.disabled else 'active  '}  {u.created_at}")
    return 0
