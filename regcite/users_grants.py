"""`regcite users grant|revoke|group-add|group-remove|grants`: who may read which collection (admins only)."""
from __future__ import annotations

import json


def add_actions(sub) -> None:
    for action, verb in (("grant", "let a user (or, with --group, a group) read a collection"),
                         ("revoke", "take a collection grant back")):
        parser = sub.add_parser(action, help=verb)
        parser.add_argument("name", metavar="NAME", help="the user, or the group with --group")
        parser.add_argument("collection", metavar="COLLECTION", help="as given to `regcite ingest --collection`")
        parser.add_argument("--group", action="store_true", help="NAME is a group")
    for action, verb in (("group-add", "put a user in a group (they read what the group is granted)"),
                         ("group-remove", "take a user out of a group")):
        parser = sub.add_parser(action, help=verb)
        parser.add_argument("group", metavar="GROUP")
        parser.add_argument("name", metavar="USER")
    listing = sub.add_parser("grants", help="every grant, or those that reach one user (directly or by group)")
    listing.add_argument("name", nargs="?", metavar="NAME", help="a user or group")
    listing.add_argument("--json", action="store_true", help="print JSON")


def _kind(args):
    from rag.records.grants import Grantee

    return Grantee.GROUP if args.group else Grantee.USER


def _grant(book, args, by) -> int:
    from rag.records.grants import grant

    made = grant(book, args.name, args.collection, by, kind=_kind(args))
    print(f"{made.grantee_kind.value} {made.grantee} may read collection {made.collection} (granted by {by.name})")
    return 0


def _revoke(book, args, by) -> int:
    from rag.records.grants import revoke

    revoke(book, args.name, args.collection, by, kind=_kind(args))
    print(f"{_kind(args).value} {args.name} may no longer read collection {args.collection} (revoked by {by.name})")
    return 0


def _group_add(book, args, by) -> int:
    from rag.records.grants import add_member

    add_member(book, args.group, args.name, by)
    print(f"{args.name} is in group {args.group} (by {by.name})")
    return 0


def _group_remove(book, args, by) -> int:
    from rag.records.grants import remove_member

    remove_member(book, args.group, args.name, by)
    print(f"{args.name} is no longer in group {args.group} (by {by.name})")
    return 0


def _grants(book, args, by) -> int:
    from rag.records.grants import groups_of, list_grants
    from regcite.users_cmd import require_admin

    require_admin(by, "list grants")
    grants = list_grants(book, args.name)
    if args.json:
        print(json.dumps([{"grantee_kind": g.grantee_kind.value, "grantee": g.grantee, "collection": g.collection,
                           "granted_by": g.granted_by, "granted_at": g.granted_at} for g in grants],
                         ensure_ascii=False, indent=2))
        return 0
    if args.name:
        groups = groups_of(book, args.name)
        print(f"{args.name}: groups {', '.join(groups) if groups else '(none)'}")
    if not grants:
        print("no grants: only admins read any collection" if not args.name else
              f"no grants reach {args.name}: they read no collection (admins read every one)")
        return 0
    for g in grants:
        print(f"{g.collection}  {g.grantee_kind.value} {g.grantee}  (by {g.granted_by}, {g.granted_at})")
    return 0


ACTIONS = {"grant": _grant, "revoke": _revoke, "group-add": _group_add, "group-remove": _group_remove,
           "grants": _grants}
