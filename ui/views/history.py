"""History page script, registered by ui/app.py with st.navigation."""
from ui import history

history.page()
