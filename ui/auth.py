"""Who is using the app: a login against the record book's users, held in the server-side session state only."""
from __future__ import annotations

import time

import streamlit as st

from rag.errors import AuthError
from rag.records.logins import LoginLocked, LoginPolicy, check_login
from rag.records.users import LOCAL_USER, User, list_users
from ui import render, resources

SIGNED_IN = "auth_user"  # the logged-in User; lives in Streamlit's session on the server, so a reload asks again
SINCE = "auth_since"  # time.time() of the login
SEEN = "auth_seen"  # time.time() of the session's last run while logged in
EXPIRED = "auth_expired"  # why the last session ended, shown once on the login form
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
    expired = _expiry(settings, time.time())
    if expired:
        _end_session(settings, held)
        st.session_state[EXPIRED] = expired
        return None
    st.session_state[SEEN] = time.time()
    now = next((u for u in users if u.name == held.name), None)
    if now is None or now.disabled:
        st.session_state.pop(SIGNED_IN, None)
        return None
    return now


def login_form(settings) -> None:
    """The login form; on success the user is kept in the session and the app runs again as them."""
    st.markdown("## Log in")
    if st.session_state.get(EXPIRED):
        st.info(st.session_state[EXPIRED], icon=":material/timer_off:")
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
        user = check_login(resources.book(settings), name, password, LoginPolicy.of(settings))
    except LoginLocked as e:
        st.error(render.md_escape(str(e)), icon=":material/lock_clock:")
        return
    except AuthError:
        st.error(WRONG, icon=":material/lock:")
        return
    finally:
        st.session_state.pop("login_password", None)  # the typed password is not kept in the session
    st.session_state.pop(EXPIRED, None)
    st.session_state[SIGNED_IN] = user
    st.session_state[SINCE] = st.session_state[SEEN] = time.time()
    st.rerun()


def _expiry(settings, now: float) -> str:
    """Why the logged-in session has expired ("" while it has not): idle too long, or open too long."""
    if now - st.session_state.get(SEEN, now) > settings.session_idle_minutes * 60:
        return f"Your session was idle for more than {settings.session_idle_minutes} minutes: log in again."
    if now - st.session_state.get(SINCE, now) > settings.session_max_hours * 3600:
        return f"Your session is more than {settings.session_max_hours} hours old: log in again."
    return ""


def _end_session(settings, user: User) -> None:
    from rag.records.reviews import release
    from ui.review import OPEN

    if st.session_state.get(OPEN):  # an answer left under review goes back to the queue at once, not in 15 minutes
        release(resources.book(settings), user, st.session_state[OPEN])
    st.session_state.clear()  # everything this session held: turns, open reviews, the user


def _log_out(settings, user: User) -> None:
    _end_session(settings, user)


def sidebar(settings, user: User) -> None:
    """Who is logged in, and their way out."""
    if user.local:
        st.sidebar.caption(":material/person: No users are defined: running as the local user, with every right.")
        return
    st.sidebar.markdown(f":material/person: **{render.md_escape(user.name)}** · {user.role.value}")
    st.sidebar.button("Log out", icon=":material/logout:", key="log_out", on_click=_log_out, args=(settings, user))
