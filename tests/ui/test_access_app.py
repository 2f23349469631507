"""The access matrix in the app (AppTest): ann, who may read collection A only, asks a question naming a clause of
B and one quoting it, then opens every page; nothing of B shows: no clause, title, reference, date or count. ada,
an admin, sees B on the same pages, so each check could fail. A real browser does the same in test_access_e2e."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.access_fixtures import NAMED, PASSWORD, QUESTIONS, QUOTED, build_two_collections, leaks
from tests.fakes import HashEmbedder
from tests.ui.conftest import ROOT
from ui.render import md_escape

APP = str(ROOT / "ui" / "app.py")
PAGES = ("views/ask.py", "views/history.py", "views/library.py", "views/review.py")


@pytest.fixture
def two_collections(app_env, tmp_path, monkeypatch):
    world = build_two_collections(app_env, tmp_path / "files")
    import rag.pipeline  # imported first with the real loader: a first import under the patch would keep the stand-in

    for where in ("rag.embed.load_embedder", "rag.pipeline.load_embedder"):
        monkeypatch.setattr(where, lambda settings: HashEmbedder(64))
    return world


def log_in(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(PASSWORD)
    next(b for b in at.button if b.label == "Log in").click()
    return at.run()


def everything(at: AppTest) -> str:
    """All the text the run drew, main and sidebar: Markdown, captions, alerts, metrics, tables and the options of
    every select box, multiselect and radio."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "subheader", "header", "title",
                 "code", "text", "json", "exception"):
        parts += [str(e.value) for e in getattr(at, kind, [])]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [d.value.to_csv() for d in at.dataframe]
    parts += [e.label for e in at.expander] + [t.label for t in at.tabs]
    for kind in ("selectbox", "multiselect", "radio"):
        for widget in getattr(at, kind):
            parts += [str(o) for o in widget.options]
    text = "\n".join(parts)
    for question in QUESTIONS:  # the page shows the question as escaped Markdown; it names B by itself
        text = text.replace(md_escape(question), "")
    return text


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def visit(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_ann_sees_nothing_of_b_on_any_page_while_ada_sees_it(two_collections):
    world = two_collections
    ada = log_in("ada")
    for question in QUESTIONS:
        ask(ada, question)
    admin_sees = everything(ada) + "".join(everything(visit(ada, p)) for p in PAGES[1:])
    assert leaks(admin_sees, versions=world.b_versions)  # the checks below could fail

    ann = log_in("ann")
    for question in QUESTIONS:
        shown = everything(ask(ann, question))
        assert not leaks(shown, versions=world.b_versions), leaks(shown, versions=world.b_versions)
    assert "Searched 2 documents (Part 900, Part 950)" in everything(ann)
    for page in PAGES:
        shown = everything(visit(ann, page))
        assert not leaks(shown, versions=world.b_versions), (page, leaks(shown, versions=world.b_versions))
    from rag.store import open_index

    index = open_index(world.settings)
    a_clauses = sum(c.version_id in world.a_versions for c in index.clauses)
    library = visit(ann, "views/library.py")
    assert [m.value for m in library.metric][:2] == [str(len(world.a_versions)), str(a_clauses)]  # A's alone
    assert a_clauses < len(index.clauses)
    assert "Adding documents is for admins" in everything(library)


def test_a_reviewer_of_a_sees_no_answer_drawn_from_b_in_the_queue(two_collections):
    ada = log_in("ada")
    ask(ada, NAMED)  # answered from B's § 7731.4(a)
    rex = log_in("rex")
    ask(rex, "How long must a lender retain each application record?")  # rex's own, from A
    admin_queue = everything(visit(log_in("ada"), "views/review.py"))
    assert "7731" in admin_queue  # ada (an admin) sees her answer waiting
    queue = everything(visit(log_in("rex"), "views/review.py"))
    assert md_escape("How long must a lender retain each application record?") in queue
    assert NAMED not in queue and not leaks(queue, versions=two_collections.b_versions)
    assert "1 answer" in queue


def test_the_correction_search_of_a_reviewer_reads_only_their_collections(two_collections, app_env):
    from ui import resources

    from rag.records.users import list_users

    rex = next(u for u in list_users(resources.book(app_env)) if u.name == "rex")
    ada = next(u for u in list_users(resources.book(app_env)) if u.name == "ada")
    assert not leaks(repr(resources.search(app_env, rex, QUOTED)), QUOTED, two_collections.b_versions)
    assert leaks(repr(resources.search(app_env, ada, QUOTED)), QUOTED, two_collections.b_versions)


def test_a_user_without_grants_sees_an_empty_library_and_answers_from_nothing(two_collections, app_env):
    from rag.records.users import Role, add_user, list_users
    from ui import resources

    book = resources.book(app_env)
    add_user(book, "nora", Role.ASKER, PASSWORD, by=next(u for u in list_users(book) if u.name == "ada"))
    nora = log_in("nora")
    assert "Searched 0 documents" in everything(ask(nora, QUOTED))
    library = visit(nora, "views/library.py")
    assert [m.value for m in library.metric][:2] == ["0", "0"]
    for page in PAGES:
        assert not leaks(everything(visit(nora, page)), versions=two_collections.b_versions)
