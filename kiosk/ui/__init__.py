"""The kiosk's PySide6 Widgets UI: window and navigation, theme, widgets, one module per screen, staff mode."""
