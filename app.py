"""Entry point: settings, identity, navigation by role, the frame. Pages do the rest."""

import streamlit as st

from ui.auth import current_visitor
from ui.frame import frame_style, navigation, sidebar
from ui.state import connection

st.set_page_config(page_title="R2 images", page_icon=":material/cloud:", layout="wide")
frame_style()

settings, _ = connection()
visitor = current_visitor(settings)
page = navigation(visitor)
sidebar(settings, visitor)
page.run()
