import streamlit as st

from ui.auth import require

require("developer")

st.title("CORS")
st.info(
    "Coming soon. View, edit, validate, explain and test the bucket's CORS policy, with history and rollback.",
    icon=":material/construction:",
)
