"""Who is using the app: a login against the record book's users, held in the server-side session state only."""
from __future__ import annotations

import unicodedata

import streamlit as st

from rag.errors import AuthError
from rag.records.users import LOCAL_USER, User, authenticate, list_users
from ui import render, resources

SIGNED_IN = "auth_user"  # the logged-in User; lives in Streamlit's session on the server, so a reload asks again
WRONG = "wrong user name or password"  # the one message a failed login gets, whatever was wrong


def current_user(settings) -> User | None:
    """The logged-in user; LOCAL_USER while no users exist (auth "auto"); None when a login is needed.
    Users are read on every run, so a user disabled or given another role since logging in is seen at once."""
    users = list_users(resources.book(settings))
    if not users and settings.auth != "password":
        st.session_state.pop(SIGNED_IN, None)
        return LOCAL_USER
    held: User | None = st.session_state.get(SIGNED_IN)
    if held is None:
        return None
    now = next((u for u in users if u.name == held.name), None)
    if now is None or now.disabled:
        st.session_state.pop(SIGNED_IN, None)
        return None
    return now


def login_form(settings) -> None:
    """The login form; on success the user is kept in the session and the app runs again as them."""
    st.markdown("## Log in")
    if settings.auth == "password" and not list_users(resources.book(settings)):
        st.info("No user exists yet. An administrator adds the first with `regcite users add NAME --role admin`.",
                icon=":material/person_add:")
    with st.form("login", enter_to_submit=True, width=420):
        name = st.text_input("User name", key="login_name", autocomplete="username")
        password = st.text_input("Password", type="password", key="login_password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in", type="primary", icon=":material/login:")
    if not submitted:
        return
    try:
        # users are stored under NFC names (rag.records.users.check_name) but authenticate does not normalise
        user = authenticate(resources.book(settings), unicodedata.normalize("NFC", name), password)
    except AuthError:
        st.error(WRONG, icon=":material/lock:")
        return
    st.session_state[SIGNED_IN] = user
    st.rerun()


def _log_out(settings, user: User) -> None:
    from rag.records.reviews import release
    from ui.review import OPEN

    if st.session_state.get(OPEN):  # an answer left under review goes back to the queue at once, not in 15 minutes
        release(resources.book(settings), user, st.session_state[OPEN])
    st.session_state.clear()  # everything this session held: turns, open reviews, the user


def sidebar(settings, user: User) -> None:
    """Who is logged in, and their way out."""
    if user.local:
        st.sidebar.caption(":material/person: No users are defined: running as the local user, with every right.")
        return
    st.sidebar.markdown(f":material/person: **{render.md_escape(user.name)}** · {user.role.value}")
    st.sidebar.button("Log out", icon=":material/logout:", key="log_out", on_click=_log_out, args=(settings, user))
