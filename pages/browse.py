import streamlit as st

from ui.auth import require

require("member")

st.title("Browse")
st.info(
    "Coming soon. Folders, search, thumbnails and previews through short-lived signed URLs, details and share links.",
    icon=":material/construction:",
)
