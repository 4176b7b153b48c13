"""The waiting-room board: the call on show very large ("请 3 号 / 到 远程诊室二"), the last few calls below it by
number only, and a big 重听 button. Never a name: the room hears and sees only numbers.

Sizes follow the board's height (it fills a screen across the room), never below what can be read from `READ_AT_M`
metres: EN 301 549 asks for capitals subtending 0.7° at the viewing distance, i.e. 2·d·tan(0.35°) ≈ 73 mm at 6 m for
the number. Colours: the kiosk profile's bar colours (light text on near-black, ≥ 7:1) and its focus yellow for the
number.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from cunzhan.i18n import N_, sentences
from cunzhan.i18n import gettext as _
from cunzhan.protocol import CallAction
from kiosk.accessibility.api import SpeechOut
from kiosk.ui import widgets
from kiosk.ui.theme import FONT_FAMILY, Theme

READ_AT_M = 6.0  # the far side of a village waiting room
HISTORY = 5  # earlier calls shown under the current one
TIMES_SAID = 2  # each call is announced twice: the first time people are not listening yet

WORDS_NUMBER = N_("Number {number}")  # the big first line: 「请 3 号」
WORDS_ROOM = N_("please go to {room}")  # the second line: 「到 远程诊室二」
WORDS_CALL = N_("Number {number}, please go to {room}.")  # said aloud and given to screen readers
WORDS_SKIPPED = N_("No. {number} missed")  # an earlier call whose resident did not come: 「3 号 过号」
WORDS_EARLIER = N_("No. {number}")


def min_number_mm(distance_m: float = READ_AT_M) -> float:
    """The smallest glyph height (mm) read from `distance_m`: 0.7° of visual angle."""
    return 2 * distance_m * 1000 * math.tan(math.radians(0.35))


@dataclass(frozen=True, slots=True)
class ShownCall:
    number: int
    room: str
    action: CallAction

    def sentence(self) -> str:
        return _(WORDS_CALL).format(number=self.number, room=self.room)

    def earlier(self) -> str:
        words = WORDS_SKIPPED if self.action == "skip" else WORDS_EARLIER
        return _(words).format(number=self.number)


class CallBoard(QWidget):
    """The board. `show_call(...)` puts a call on it (and says it twice), `repeat()` says the current one again."""

    def __init__(self, theme: Theme, speech: SpeechOut, *, title: str = "") -> None:
        super().__init__()
        self.theme = theme
        self.speech = speech
        self.current: ShownCall | None = None
        self.earlier: deque[ShownCall] = deque(maxlen=HISTORY)
        self.setObjectName("call_board")
        self.setAccessibleName(_("Waiting room calls"))
        self.setAttribute(
            Qt.WidgetAttribute.WA_StyledBackground, True
        )  # a plain QWidget paints no background
        self.title = self._label(title or _("Waiting room"), "display_title")
        self.number_line = self._label("", "current_number")
        self.room_line = self._label("", "current_room")
        self.earlier_line = self._label("", "earlier_calls")
        self.repeat_button = widgets.button(
            _("Repeat"), name="display_repeat", kind="primary", on_click=self.repeat
        )
        self.repeat_button.setAccessibleDescription(_("Say the call again"))
        self.repeat_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        column = QVBoxLayout(self)
        column.addWidget(self.title)
        column.addStretch(1)
        column.addWidget(self.number_line)
        column.addWidget(self.room_line)
        column.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.earlier_line, 1)
        bottom.addWidget(self.repeat_button)
        column.addLayout(bottom)
        self._draw()

    def _label(self, text: str, name: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName(name)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        return label

    # --- calls ------------------------------------------------------------------------------------------------------

    def show_call(self, number: int, room: str, action: CallAction) -> None:
        """A call: `call`/`recall` goes on show and is said twice; `skip` (过号) is listed among the earlier calls."""
        call = ShownCall(number, room, action)
        if action == "skip":
            self._remember(call)
            if self.current is not None and self.current.number == number:
                self.current = None
            self._draw()
            return
        if self.current is not None and self.current.number != number:
            self._remember(self.current)
        self.current = call
        self._draw()
        self.repeat()

    def _remember(self, call: ShownCall) -> None:
        for old in list(self.earlier):
            if old.number == call.number:
                self.earlier.remove(old)
        self.earlier.appendleft(call)

    def repeat(self) -> None:
        """重听: the current call, twice."""
        if self.current is not None:
            self.speech.say(sentences(*[self.current.sentence()] * TIMES_SAID))

    def current_text(self) -> str:
        """What the board shows as the current call, on one line ('' when none)."""
        if self.current is None:
            return ""
        return " ".join(f"{self.number_line.text()} {self.room_line.text()}".split())

    # --- drawing ----------------------------------------------------------------------------------------------------

    def _draw(self) -> None:
        call = self.current
        if call is None:
            self.number_line.setText(_("Please wait to be called"))
            self.room_line.setText("")
            self.number_line.setAccessibleName(_("Please wait to be called"))
        else:
            self.number_line.setText(_(WORDS_NUMBER).format(number=call.number))
            self.room_line.setText(_(WORDS_ROOM).format(room=call.room))
            self.number_line.setAccessibleName(call.sentence())
        self.room_line.setAccessibleName(self.room_line.text() or " ")
        earlier = [c.earlier() for c in self.earlier]
        text = _("Called before: {calls}").format(calls=_(", ").join(earlier)) if earlier else ""
        self.earlier_line.setText(text)
        self.earlier_line.setAccessibleName(text or " ")
        self._fit()

    def _fit(self) -> None:
        """Sizes from the board's height, never below the reading minimum for the number."""
        height = max(self.height(), 400)
        number_px = max(self.theme.px(min_number_mm()), int(height * 0.28))
        number_px = min(number_px, int(height * 0.34))
        sizes = {
            self.number_line: number_px if self.current is not None else int(height * 0.1),
            self.room_line: int(height * 0.13),
            self.title: max(self.theme.title_px, int(height * 0.05)),
            self.earlier_line: max(self.theme.text_px, int(height * 0.06)),
        }
        palette = self.theme.palette
        for label, px in sizes.items():
            font = QFont(FONT_FAMILY)
            font.setPixelSize(px)
            font.setBold(label is not self.earlier_line)
            label.setFont(font)
        number_colour = palette.focus_bg if self.current is not None else palette.bar_text
        button: QPushButton = self.repeat_button
        side = max(self.theme.target_px, int(height * 0.12))
        button.setFixedSize(int(side * 2.2), side)
        font = QFont(FONT_FAMILY)
        font.setPixelSize(max(self.theme.text_px, int(side * 0.4)))
        font.setBold(True)
        button.setFont(font)
        self.setStyleSheet(
            f"QWidget#call_board {{ background: {palette.bar_bg}; }}"
            f"QLabel {{ color: {palette.bar_text}; background: transparent; }}"
            f"QLabel#current_number {{ color: {number_colour}; }}"
            f"QPushButton#display_repeat {{ background: {palette.primary_bg}; color: {palette.primary_text};"
            f" border: {max(2, self.theme.focus_px // 2)}px solid {palette.bar_text};"
            f" border-radius: {side // 8}px; }}"
            f"QPushButton#display_repeat:focus {{ background: {palette.focus_bg}; color: {palette.focus_text}; }}"
        )

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._fit()
