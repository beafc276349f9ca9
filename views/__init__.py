"""Streamlit page scripts (one per page) and their shared widgets."""
