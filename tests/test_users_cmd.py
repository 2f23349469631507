"""`regcite users`: the local user adds the first admin, admins add and disable the rest; --user logs in, and a
wrong password, a disabled user or a role that does not fit exits with its own code and a one-line message.

Runs on SQLite (the default file in the data directory) and PostgreSQL; the helpers here serve the review and
audit command tests too."""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from regcite.cli import main
from tests.records.conftest import POSTGRES, fresh_postgres_database

PASSWORDS = {"ada": "ada's long password", "ann": "ann's long password", "rex": "rex's long password",
             "rosa": "rosa's long password"}
PEOPLE = (("ada", "admin"), ("ann", "asker"), ("rex", "reviewer"), ("rosa", "reviewer"))


@pytest.fixture(params=["sqlite", "postgresql"])
def records_url(request):
    """"" for the default SQLite file in the data directory, else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield ""
        return
    if not POSTGRES:
        pytest.skip("PostgreSQL variant: set REGCITE_TEST_POSTGRES to an admin URL (scripts/postgres.sh prints one)")
    url, drop = fresh_postgres_database()
    yield url
    drop()


class Cli:
    """`regcite` in-process over one data directory, as a user or not, with what stdin holds."""

    def __init__(self, data_dir: Path, capsys, monkeypatch):
        self.data_dir, self._capsys, self._monkeypatch = data_dir, capsys, monkeypatch

    def __call__(self, *argv: str, user: str | None = None, password: str | None = None,
                 stdin: str = "") -> tuple[int, str, str]:
        self._monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        if password is None:
            self._monkeypatch.delenv("REGCITE_PASSWORD", raising=False)
        else:
            self._monkeypatch.setenv("REGCITE_PASSWORD", password)
        code = main(["--data-dir", str(self.data_dir)] + (["--user", user] if user else []) + list(argv))
        out, err = self._capsys.readouterr()
        return code, out, err

    def as_(self, name: str, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        """As one of PEOPLE, with the right password."""
        return self(*argv, user=name, password=PASSWORDS[name], stdin=stdin)


@pytest.fixture
def cheap_hashing(monkeypatch):
    """argon2 at the library's parameters costs ~0.4 s a hash or a login, and these tests log in dozens of times;
    tests/records checks the real parameters, here an argon2id hasher at minimal cost stands in."""
    from argon2 import PasswordHasher

    import rag.records.users

    monkeypatch.setattr(rag.records.users, "_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def cli(tmp_path, capsys, monkeypatch, records_url, cheap_hashing) -> Cli:
    for name in ("REGCITE_USER", "REGCITE_PASSWORD", "REGCITE_CONFIG", "REGCITE_DATA_DIR", "REGCITE_AUTH",
                 "REGCITE_AUDIT_CHECKPOINTS", "REGCITE_AUDIT_PUBLIC_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REGCITE_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))  # never the user's own key
    if records_url:
        monkeypatch.setenv("REGCITE_DATABASE_URL", records_url)
    else:
        monkeypatch.delenv("REGCITE_DATABASE_URL", raising=False)
    return Cli(tmp_path / "data", capsys, monkeypatch)


def add_people(cli: Cli) -> None:
    """ada (admin, added by the local user), then ann (asker), rex and rosa (reviewers), added by ada."""
    assert cli("users", "add", "ada", "--role", "admin", stdin=PASSWORDS["ada"] + "\n")[0] == 0
    for name, role in PEOPLE[1:]:
        code, out, err = cli.as_("ada", "users", "add", name, "--role", role, stdin=PASSWORDS[name] + "\n")
        assert code == 0, err


def test_the_local_user_adds_the_first_user_who_must_be_an_admin(cli):
    code, _, err = cli("users", "add", "ann", "--role", "asker", stdin=PASSWORDS["ann"] + "\n")
    assert code == 2 and "the first user must be an admin" in err
    code, out, _ = cli("users", "add", "ada", "--role", "admin", stdin=PASSWORDS["ada"] + "\n")
    assert code == 0 and out.strip() == "added admin ada (by local)"
    code, _, err = cli("users", "list")  # from now on somebody must log in
    assert code == 3 and "--user NAME" in err
    code, out, _ = cli.as_("ada", "users", "list", "--json")
    assert code == 0 and [(u["name"], u["role"], u["disabled"]) for u in json.loads(out)] == [("ada", "admin", False)]


def test_an_admin_adds_and_disables_users_and_a_disabled_user_cannot_log_in(cli):
    add_people(cli)
    code, out, _ = cli.as_("ada", "users", "list")
    assert code == 0 and [line.split()[:3] for line in out.splitlines()] == [
        ["ada", "admin", "active"], ["ann", "asker", "active"], ["rex", "reviewer", "active"],
        ["rosa", "reviewer", "active"]]
    code, out, _ = cli.as_("ada", "users", "disable", "rex")
    assert code == 0 and "disabled rex" in out
    code, _, err = cli.as_("rex", "review", "list")
    assert code == 3 and err.strip() == "regcite: user 'rex' is disabled; an admin can tell you why"
    code, _, err = cli.as_("ada", "users", "disable", "nobody")
    assert code == 2 and "no user 'nobody'" in err


def test_a_wrong_password_exits_3_with_a_clear_message(cli):
    add_people(cli)
    code, out, err = cli("users", "list", user="ada", password="not ada's password")
    assert (code, out, err) == (3, "", "regcite: wrong user name or password\n")
    code, _, err = cli("users", "list", user="nobody", password="whatever it is")
    assert code == 3 and err == "regcite: wrong user name or password\n"  # the same whichever part was wrong
    assert cli("users", "list", user="ada", stdin=PASSWORDS["ada"] + "\n")[0] == 0  # the password from stdin


@pytest.mark.parametrize("who, argv, message", [
    ("rex", ("users", "add", "bob", "--role", "asker"), "rex is reviewer: only admins add users"),
    ("rex", ("users", "disable", "ann"), "rex is reviewer: only admins disable users"),
    ("ann", ("users", "list"), "ann is asker: only admins list users"),
    ("ann", ("review", "list"), "ann is an asker: reviewing needs the reviewer or admin role"),
    ("ann", ("review", "stats"), "ann is an asker: reviewing needs the reviewer or admin role"),
])
def test_a_role_that_does_not_fit_exits_4(cli, who, argv, message):
    add_people(cli)
    code, _, err = cli.as_(who, *argv, stdin="bob's long password\n")
    assert code == 4 and err.strip() == f"regcite: {message}"


def test_a_short_password_or_none_adds_nobody(cli):
    code, _, err = cli("users", "add", "ada", "--role", "admin", stdin="short\n")
    assert code == 2 and "at least 10 characters" in err
    code, _, err = cli("users", "add", "ada", "--role", "admin", stdin="")
    assert code == 2 and "no password for ada" in err
    assert cli("users", "list")[1].startswith("no users")


def test_the_new_password_is_typed_twice_at_a_terminal(cli, monkeypatch):
    import getpass

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    typed = iter(["ada's long password", "ada's other password"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(typed))
    monkeypatch.setattr(sys, "stdin", Terminal())
    assert main(["--data-dir", str(cli.data_dir), "users", "add", "ada", "--role", "admin"]) == 2
    typed = iter(["ada's long password"] * 2)
    assert main(["--data-dir", str(cli.data_dir), "users", "add", "ada", "--role", "admin"]) == 0


def test_auth_password_refuses_the_local_user_but_lets_the_first_admin_be_added(cli, monkeypatch):
    monkeypatch.setenv("REGCITE_AUTH", "password")
    code, _, err = cli("review", "list")
    assert code == 3 and "no user exists" in err
    assert cli("users", "add", "ada", "--role", "admin", stdin=PASSWORDS["ada"] + "\n")[0] == 0
    assert cli.as_("ada", "review", "list")[0] == 0
