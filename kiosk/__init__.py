"""Cunzhan kiosk: the core (settings, models, identity checks, local store, booking rules, i18n). No Qt here."""

__version__ = "0.1.0"
