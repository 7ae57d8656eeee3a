import streamlit as st

from ui.auth import require

visitor = require("member")

st.title("Upload")

# --- direct upload (issue 4): browser -> bucket through presigned PUT URLs; the app path is the fallback
from r2.direct_pipeline import pipeline_check  # noqa: E402
from ui.direct_upload import direct_upload_section  # noqa: E402
from ui.state import connection  # noqa: E402

_settings, _client = connection()
direct_ok = direct_upload_section(_settings, _client, visitor.email or visitor.name, pipeline_check)
# --- end direct upload

st.info(
    "Coming soon. Upload images from the browser: checked by content, named safely, never overwriting, "
    "with thumbnails.",
    icon=":material/construction:",
)
