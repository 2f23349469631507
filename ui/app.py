"""The regcite app: `streamlit run ui/app.py` or `regcite ui`."""
import sys
from pathlib import Path

# `streamlit run ui/app.py` puts ui/ on sys.path, not the project root the packages live in.
_HERE = Path(__file__).resolve().parent
_ROOT = str(_HERE.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from rag.errors import RegciteError  # noqa: E402
from ui import auth, render, resources  # noqa: E402

# A local favicon: a Material icon as page_icon is fetched from fonts.gstatic.com, a request to another host.
st.set_page_config(page_title="regcite", page_icon=str(_HERE / "static" / "favicon.png"), layout="wide")
st.html(_HERE / "static" / "app.css")
with st.sidebar:
    st.markdown("### :material/gavel: regcite")
    st.caption("Compliance answers with verified clause citations")

settings = resources.settings()
try:
    user = auth.current_user(settings)
except RegciteError as e:  # the records database cannot be opened: nothing may be answered unrecorded
    st.error(render.md_escape(str(e)), icon=":material/error:")
    st.stop()
reviews = user is not None and user.role.reviews
# Review is registered for everyone, so its URL answers an asker with a refusal, but listed only for reviewers.
# The pages are registered before a login too, so a link to one (say /review) opens it once the user has logged in.
page = st.navigation(
    [
        st.Page(_HERE / "views" / "ask.py", title="Ask", icon=":material/forum:", default=True),
        st.Page(_HERE / "views" / "history.py", title="History", icon=":material/history:"),
        st.Page(_HERE / "views" / "library.py", title="Library", icon=":material/library_books:"),
        st.Page(_HERE / "views" / "review.py", title="Review", icon=":material/fact_check:",
                visibility="visible" if reviews else "hidden"),
    ],
    position="top" if user is not None else "hidden",
)
if user is None:
    auth.login_form(settings)
    st.stop()
auth.sidebar(settings, user)
page.run()
