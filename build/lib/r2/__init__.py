"""The R2 image dashboard's library: plain Python, no Streamlit, shared by the app and the CLI."""
