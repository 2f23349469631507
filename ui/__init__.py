"""The Streamlit front end: Ask and Library pages over the rag core."""
