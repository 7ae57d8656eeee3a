import streamlit as st

from ui.auth import require

require("developer")

st.title("Health")
st.info(
    "Coming soon. Check credentials, endpoint, clock, permissions and CORS, with the fix for each failure.",
    icon=":material/construction:",
)
