"""The regcite app: `streamlit run ui/app.py` or `regcite ui`."""
import sys
from pathlib import Path

# `streamlit run ui/app.py` puts ui/ on sys.path, not the project root the packages live in.
_HERE = Path(__file__).resolve().parent
_ROOT = str(_HERE.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

st.set_page_config(page_title="regcite", page_icon=":material/gavel:", layout="wide")
st.html(_HERE / "static" / "app.css")
with st.sidebar:
    st.markdown("### :material/gavel: regcite")
    st.caption("Compliance answers with verified clause citations")
st.navigation(
    [
        st.Page(_HERE / "views" / "ask.py", title="Ask", icon=":material/forum:", default=True),
        st.Page(_HERE / "views" / "library.py", title="Library", icon=":material/library_books:"),
    ],
    position="top",
).run()
