"""`regcite users key NAME [--label]`, `users keys [NAME]`, `users revoke-key KEY_ID`: API keys for `regcite serve`."""
from __future__ import annotations

import json


def add_actions(sub) -> None:
    key = sub.add_parser("key", help="make an API key for NAME (admins for anyone, users for themselves); the key is "
                                     "printed once and stored only as a hash")
    key.add_argument("name", metavar="NAME")
    key.add_argument("--label", default="", help="what the key is for, e.g. \"Open WebUI\" (shown in `users keys`)")
    key.add_argument("--json", action="store_true", help="print JSON")
    keys = sub.add_parser("keys", help="API keys by id, prefix, label and state (your own; admins: anyone's or all)")
    keys.add_argument("name", nargs="?", metavar="NAME")
    keys.add_argument("--json", action="store_true", help="print JSON")
    revoke = sub.add_parser("revoke-key", help="refuse an API key from now on (admins any, users their own)")
    revoke.add_argument("key_id", metavar="KEY_ID", help="the id `users keys` shows, or a unique start of it")


def _make(book, args, by) -> int:
    from rag.records.api_keys import create_key

    made = create_key(book, args.name, args.label, by)
    if args.json:
        print(json.dumps(_row(made.key) | {"secret": made.secret}, ensure_ascii=False, indent=2))
        return 0
    print(f"API key {made.key.key_id} for {made.key.user} (by {by.name}); shown only now, store it safely:")
    print(made.secret)
    print("send it as `Authorization: Bearer KEY` (an OpenAI client's api_key); `regcite users revoke-key "
          f"{made.key.key_id[:8]}` stops it")
    return 0


def _list(book, args, by) -> int:
    from rag.errors import PermissionDenied
    from rag.records.api_keys import list_keys
    from rag.records.users import Role

    owner = args.name
    if by.role is not Role.ADMIN:
        if owner not in (None, by.name):
            raise PermissionDenied(f"{by.name} is {by.role.value}: only admins list other users' keys")
        owner = by.name
    keys = list_keys(book, owner)
    if args.json:
        print(json.dumps([_row(k) for k in keys], ensure_ascii=False, indent=2))
        return 0
    if not keys:
        print(f"no API keys{' for ' + owner if owner else ''}; `regcite users key NAME` makes one")
        return 0
    width = max(len(k.user) for k in keys)
    for k in keys:
        state = f"revoked {k.revoked_at[:16]}" if k.revoked else f"last used {k.last_used_at[:16] or 'never'}"
        print(f"{k.key_id}  {k.user.ljust(width)}  {k.prefix}…  created {k.created_at[:16]}  {state}  {k.label}")
    return 0


def _revoke(book, args, by) -> int:
    from rag.records.api_keys import revoke_key

    key = revoke_key(book, args.key_id, by)
    print(f"revoked API key {key.key_id} ({key.prefix}…) of {key.user} (by {by.name})")
    return 0


def _row(key) -> dict:
    return {"key_id": key.key_id, "user": key.user, "prefix": key.prefix, "label": key.label,
            "created_at": key.created_at, "revoked_at": key.revoked_at or None,
            "last_used_at": key.last_used_at or None}


ACTIONS = {"key": _make, "keys": _list, "revoke-key": _revoke}
