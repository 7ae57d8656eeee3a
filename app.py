"""Entry point: settings, identity, navigation by role, the frame (ui/frame.py). Pages do the rest."""

from ui.frame import run_app

run_app()
