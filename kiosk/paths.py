"""Where the kiosk keeps its files: one data directory, `$CUNZHAN_HOME/kiosk/` or the platform's data directory."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "cunzhan"


def app_dir(part: str) -> Path:
    """Return (and create) `$CUNZHAN_HOME/<part>/`, else the platform's user data directory + `/<part>`.
    The kiosk keeps its files under `kiosk`, the township backend under `township`."""
    home = os.environ.get("CUNZHAN_HOME")
    if home:
        path = Path(home) / part
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / part
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Return (and create) the directory every file the kiosk writes lives under."""
    return app_dir("kiosk")


def database_path() -> Path:
    """The kiosk's SQLite file."""
    return data_dir() / "kiosk.db"


def assets_dir() -> Path:
    """Read-only assets shipped with the application (translations, grammars, demo data, sounds)."""
    override = os.environ.get("CUNZHAN_ASSETS")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "assets"
