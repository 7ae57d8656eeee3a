"""The floor for page timings: a Streamlit page with a title and nothing else (bench/pages.py)."""

import streamlit as st

st.set_page_config(page_title="Empty", layout="wide")
st.title("Empty")
st.write("Nothing here: the time Streamlit itself needs to show a page.")
