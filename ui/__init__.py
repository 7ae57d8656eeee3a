"""Streamlit glue shared by the pages: cached settings/client, the role guard, messages, formatting."""
