"""Every kiosk setting, declared once with its type, default and a one-line description.

Values set by staff are stored in the local database's `settings` table (see `kiosk.store`); anything not stored takes
the default declared here. An environment variable `CUNZHAN_<KEY>` overrides a value for one run (tests, demos).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cunzhan.i18n import N_


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its key, the Python type of its value, the default and what it is for."""

    key: str
    type: type
    default: Any
    description: str
    secret: bool = False


_DECLARED: dict[str, Setting] = {}


def declare(key: str, type_: type, default: Any, description: str) -> Setting:
    if key in _DECLARED:
        raise ValueError(f"setting {key!r} declared twice")
    setting = Setting(key, type_, default, description)
    _DECLARED[key] = setting
    return setting


LOCALE = declare("locale", str, "zh_CN", N_("Language of the kiosk screens and speech (zh_CN or en)."))
TIMEZONE = declare("timezone", str, "Asia/Shanghai", N_("Time zone the kiosk shows times in."))
KIOSK_NAME = declare("kiosk_name", str, "", N_("Name of this kiosk, usually its village service centre."))
KIOSK_PHONE = declare(
    "kiosk_phone", str, "", N_("Phone number of the village service centre, printed on slips.")
)
VILLAGE = declare("village", str, "", N_("Village this kiosk serves."))
ROOM_NAME = declare(
    "room_name",
    str,
    "",
    N_("Name of the room the waiting-room display calls residents to, when the township gives none."),
)
PROFILE_DEFAULT = declare(
    "profile_default", str, "standard", N_("Accessibility profile a new resident session starts in.")
)
VOLUME = declare("volume", float, 0.8, N_("Speech volume at the start of each session, 0 to 1."))
SPEECH_RATE = declare("speech_rate", int, 170, N_("Speech rate in words per minute in the standard profile."))
PRIVATE_AUDIO = declare(
    "private_audio",
    bool,
    False,
    N_("Whether a headphone jack gives private audio; only then are ID and phone numbers spoken."),
)
VOICE_MODEL_PATH = declare(
    "voice_model_path",
    str,
    "",
    N_("Folder of the Vosk speech model used for voice commands (Chinese model)."),
)
VOICE_ENABLED = declare("voice_enabled", bool, True, N_("Whether residents may use voice commands."))
PRINTER = declare(
    "printer", str, "", N_("Printer for booking slips; empty means the system default printer.")
)
TOWNSHIP_URL = declare("township_url", str, "", N_("Address of the township service-hall backend."))
CANCEL_WINDOW_HOURS = declare(
    "cancel_window_hours",
    int,
    2,
    N_("A booking can be cancelled or changed until this many hours before it starts."),
)
CHECK_IN_EARLY_MINUTES = declare(
    "check_in_early_minutes", int, 120, N_("How many minutes before a session starts check-in opens.")
)
DPI_OVERRIDE = declare(
    "dpi_override",
    float,
    0.0,
    N_("Screen pixels per inch, for a panel that reports its size wrongly; 0 means ask the screen."),
)
IDLE_SCALE = declare(
    "idle_scale", float, 1.0, N_("Multiplier for every idle time limit, for kiosks that need more.")
)
SYNC_INTERVAL_S = declare("sync_interval_s", int, 60, N_("Seconds between automatic sync attempts."))
VIDEO_HOSTED = declare(
    "video_hosted", bool, False, N_("Whether this kiosk opens the video session itself at check-in.")
)
PRACTICE_MODE = declare(
    "practice_mode", bool, False, N_("Practice mode: try every screen with nothing stored or synced.")
)


def declared() -> Mapping[str, Setting]:
    """All settings, in declaration order."""
    return dict(_DECLARED)


def parse(setting: Setting, raw: str) -> Any:
    """Turn a stored text value into the setting's type."""
    if setting.type is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if setting.type in (int, float):
        return setting.type(raw)
    if setting.type is str:
        return raw
    return json.loads(raw)


def render(setting: Setting, value: Any) -> str:
    """The text stored for a value."""
    if setting.type is bool:
        return "true" if value else "false"
    if setting.type in (int, float, str):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


class Settings:
    """A read view of the settings: stored values over declared defaults, with environment overrides."""

    def __init__(self, stored: Mapping[str, str] | None = None) -> None:
        self._stored = dict(stored or {})

    def get(self, setting: Setting) -> Any:
        env = os.environ.get("CUNZHAN_" + setting.key.upper())
        if env is not None:
            return parse(setting, env)
        if setting.key in self._stored:
            try:
                return parse(setting, self._stored[setting.key])
            except (ValueError, TypeError):
                return setting.default
        return setting.default

    def __getitem__(self, key: str) -> Any:
        return self.get(_DECLARED[key])

    def reload(self, stored: Mapping[str, str]) -> None:
        """Take newly stored values, in place: whoever holds this view (the speech engine, the idle guard, slip
        printing) reads them from its next use."""
        self._stored = dict(stored)
