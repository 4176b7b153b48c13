"""The resident's screens, one module each. `ALL_SCREENS` is what the window registers, in journey order."""

from __future__ import annotations

from kiosk.ui.screen import Screen


def all_screens() -> list[type[Screen]]:
    """Every resident screen class (imported here so start-up pays only for what it uses)."""
    from kiosk.ui.screens import exit_pin, home, modes

    return [home.HomeScreen, modes.ModesScreen, exit_pin.ExitPinScreen]
