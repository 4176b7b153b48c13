"""UI test fixtures: one session QApplication (pytest-qt's `qapp`, offscreen), the reference panel's DPI, a
synchronous op runner, speech that records what it was asked to say, and a kiosk window factory."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Callable, Iterator

import pytest

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["CUNZHAN_DPI_OVERRIDE"] = str(25.4 / 0.248)  # the reference panel, 102.4 dpi
os.environ["CUNZHAN_LOCALE"] = "zh_CN"

from cunzhan.i18n import sentences
from cunzhan.identity import id_check_character
from kiosk.accessibility.api import CaptionOnlySpeech, NoVoice


class RecordingSpeech(CaptionOnlySpeech):
    """The caption-only speech out, remembering every prompt and every stop/reset (what the tests check)."""

    def __init__(self) -> None:
        super().__init__()
        self.said: list[str] = []
        self.private: list[tuple[str, str]] = []
        self.stops = 0
        self.resets = 0

    def say(self, text: str) -> None:
        self.said.append(text)
        super().say(text)

    def say_private(self, clear: str, masked: str, *, then: str = "") -> None:
        self.private.append((sentences(clear, then), sentences(masked, then)))
        super().say_private(clear, masked, then=then)

    def stop(self) -> None:
        self.stops += 1

    def reset(self) -> None:
        self.resets += 1
        super().reset()


def valid_id(body17: str = "11010119480307123") -> str:
    """A valid 18-character ID number for a made-up resident born in 1948."""
    return body17 + id_check_character(body17)


@pytest.fixture
def make_kiosk(qapp: object, demo_store: object, qtbot: object) -> Iterator[Callable[..., object]]:
    """Build kiosk windows on the demo store: `make_kiosk(profile="elder")`."""
    from kiosk.accessibility.profiles import profile as profile_by_name
    from kiosk.ui.app import build_window
    from kiosk.ui.context import KioskContext
    from kiosk.ui.ops import SyncOps

    windows = []
    ticks = itertools.count(step=1.0)  # each touch a second after the last: no test click is a tremor repeat

    def make(
        profile: str = "standard",
        *,
        clock: Callable[[], dt.datetime] | None = None,
        touch_clock: Callable[[], float] | None = None,
        locked: bool = False,
    ) -> object:
        kwargs = {"clock": clock} if clock else {}
        ctx = KioskContext(
            store=demo_store,
            speech=RecordingSpeech(),
            voice=NoVoice("no voice in tests"),
            ops=SyncOps(),
            profile=profile_by_name(profile),
            **kwargs,
        )  # type: ignore[arg-type]
        window = build_window(ctx, locked=locked, clock=touch_clock or (lambda: float(next(ticks))))
        window.setFixedSize(1920, 1080)
        window.go_home()
        window.show()
        qtbot.waitExposed(window)  # type: ignore[attr-defined]
        window.activateWindow()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.unlock_and_close()
        window.deleteLater()
