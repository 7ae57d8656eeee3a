import streamlit as st

from ui.auth import require

require("admin")

st.title("Usage")
st.info("Coming soon. What the bucket holds, how it grows and what it costs.", icon=":material/construction:")
