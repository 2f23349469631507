"""Review page script, registered by ui/app.py with st.navigation."""
from ui import review

review.page()
