import streamlit as st

from ui.auth import require

require("member")

st.title("Upload")
st.info(
    "Coming soon. Upload images from the browser: checked by content, named safely, never overwriting, "
    "with thumbnails.",
    icon=":material/construction:",
)
