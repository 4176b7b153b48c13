"""Every prompt the kiosk can say, for checking speech (the figure `speech_mandarin_pct`, its test).

`kiosk_prompts()` gathers, in the current locale:
- the tour of every screen of the journey (`kiosk.ui.tour`) in every profile: each screen's whole spoken
  announcement (what 重听 says, in every profile, also where speech is only on request) and everything the kiosk said
  on the way, private details in both forms (the clear one goes to headphones, the masked one to the loudspeaker);
- every message of the kiosk's catalogs (screens, errors, spoken numbers, staff mode, sync status): all that can
  be shown can be said (重听, captions read aloud, errors spoken), with `{placeholders}` left out — their real
  values (dates, times, names, codes) come from the tour.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cunzhan.i18n import sentences
from kiosk.accessibility.api import CaptionOnlySpeech

KIOSK_DOMAINS = (
    "ui",
    "core",
    "accessibility",
    "staff",
    "sync",
)  # not township/console: web pages, never spoken
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


class _Recorder(CaptionOnlySpeech):
    def __init__(self) -> None:
        super().__init__()
        self.said: list[str] = []

    def say(self, text: str) -> None:
        self.said.append(text)
        super().say(text)

    def say_private(self, clear: str, masked: str, *, then: str = "") -> None:
        self.said.extend((sentences(clear, then), sentences(masked, then)))
        super().say_private(clear, masked, then=then)


def tour_prompts(profiles: Iterable[str] | None = None) -> list[str]:
    """What the kiosk says on the tour of every screen, in each profile (offscreen, demo township)."""
    from PySide6.QtWidgets import QApplication

    from kiosk.accessibility.profiles import ORDER
    from kiosk.ui.screenshots import _environment, demo_window
    from kiosk.ui.tour import tour

    _environment()
    said: list[str] = []
    for name in profiles or ORDER:
        with demo_window(name) as window:
            recorder = _Recorder()
            window.set_speech(recorder)
            for _screen in tour(window):
                QApplication.processEvents()
                if window.current is not None:
                    said.append(window.current.spoken_announcement())
                if window.idle.warning_shown():
                    said.append(window.idle.warning.text())
            said.extend(recorder.said)
    return said


def catalog_prompts(locale: str = "zh_CN", domains: Iterable[str] = KIOSK_DOMAINS) -> list[str]:
    """Every translated message of the kiosk's catalogs for `locale`, placeholders left out."""
    from babel.messages.pofile import read_po

    from cunzhan.i18n import translations_dir

    found: list[str] = []
    for domain in domains:
        with (translations_dir() / locale / "LC_MESSAGES" / f"{domain}.po").open("rb") as fh:
            catalog = read_po(fh)
        for message in catalog:
            raw = message.string
            strings = [str(s) for s in raw] if isinstance(raw, list | tuple) else [str(raw or "")]
            found.extend(_PLACEHOLDER.sub("", s) for s in strings if message.id and s)
    return found


def kiosk_prompts(profiles: Iterable[str] | None = None) -> list[str]:
    """Every distinct prompt (see the module docstring), sorted."""
    return sorted({p for p in [*tour_prompts(profiles), *catalog_prompts()] if p.strip()})
