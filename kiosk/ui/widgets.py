"""Small widgets every screen uses: buttons with accessible names, wrapped labels, the big number keypad."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QSizePolicy, QWidget

from cunzhan.i18n import N_
from cunzhan.i18n import gettext as _
from kiosk.ui.theme import FONT_FAMILY


def set_kind(widget: QWidget, kind: str) -> None:
    """Choose the stylesheet look of `widget` (`primary`, `secondary`, `full`, `error`, …) and re-apply it."""
    widget.setProperty("kind", kind)
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)


NO_LINE_START = set("，。、；：！？）」』》,.;:!?)")
BREAK_AFTER = set("，。、；：！？）」』》 ,.;:!?)的了")  # a line may end after these
BREAK_BEFORE = set("和或与请到在从（「『《(")  # or start with these
SHORT_WORD = 4  # a run of Chinese this short between punctuation is kept on one line (远程问诊, 确认预约)
LOOK_BACK = 5  # how far back a sensible break point is looked for before breaking between two characters


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def _tokens(paragraph: str) -> list[str]:
    """Runs of ASCII letters/digits (numbers, codes) and short Chinese runs as single tokens; other characters alone."""
    tokens: list[str] = []
    i = 0
    while i < len(paragraph):
        ch = paragraph[i]
        j = i + 1
        if ch.isascii() and (ch.isalnum() or ch in ":-./"):
            while (
                j < len(paragraph)
                and paragraph[j].isascii()
                and (paragraph[j].isalnum() or paragraph[j] in ":-./")
            ):
                j += 1
        elif _is_cjk(ch):
            while j < len(paragraph) and _is_cjk(paragraph[j]):
                j += 1
            if j - i > SHORT_WORD:  # a longer run: character by character, broken at a sensible point below
                tokens.extend(paragraph[i:j])
                i = j
                continue
        tokens.append(paragraph[i:j])
        i = j
    return tokens


def _sensible_split(tokens: list[str]) -> int:
    """Index in the line's `tokens` to move to the next line: after punctuation or 的/了, before 和/请/到…, within
    the last LOOK_BACK tokens; 0 when there is none (then the line breaks before the new token)."""
    for cut in range(len(tokens) - 1, max(0, len(tokens) - LOOK_BACK), -1):
        before, after = tokens[cut - 1], tokens[cut]
        if before[-1:] in BREAK_AFTER or after[:1] in BREAK_BEFORE:
            return cut
    return 0


def wrap_text(text: str, font_px: int, width_px: int, *, bold: bool = False) -> str:
    """Break `text` into lines no wider than `width_px`: at spaces and punctuation, before 和/请/到 or after 的 where
    possible, never inside a number or a short Chinese word, a comma never starting a line."""
    font = QFont(FONT_FAMILY)
    font.setPixelSize(font_px)
    font.setBold(bold)
    metrics = QFontMetrics(font)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line: list[str] = []
        for token in _tokens(paragraph):
            if line and metrics.horizontalAdvance("".join(line) + token) > width_px:
                cut = _sensible_split(line) if token not in NO_LINE_START else 0
                if cut:
                    carried = line[cut:]
                    line = line[:cut]
                elif token in NO_LINE_START and len(line) > 1:  # 避头: a comma never starts a line
                    carried, line = line[-1:], line[:-1]
                else:
                    carried = []
                lines.append("".join(line).rstrip())
                line = [*carried, token.lstrip()] if (carried or token.strip()) else []
            else:
                line.append(token)
        lines.append("".join(line))
    return "\n".join(lines)


def button(
    text: str,
    *,
    name: str,
    kind: str = "secondary",
    on_click: Callable[[], object] | None = None,
    description: str = "",
) -> QPushButton:
    """A push button with an accessible name (its text on one line), an object name for tests, and a look."""
    widget = QPushButton(text)
    widget.setObjectName(name)
    widget.setAccessibleName(" ".join(text.split()))
    if description:
        widget.setAccessibleDescription(description)
    widget.setProperty("kind", kind)
    widget.setAutoDefault(False)
    widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    if on_click is not None:
        widget.clicked.connect(lambda _checked=False: on_click())
    return widget


class WrappedLabel(QLabel):
    """A label whose Chinese breaks at sensible points (`wrap_text`) for the width it is given: Qt's own wrapping
    breaks between any two Chinese characters (远/程, 确/认). Its text keeps the breaks; its accessible name does not."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._plain = text
        self._wrapped_for = -1

    def text(self) -> str:
        """The text as given (without the breaks added for the width)."""
        return self._plain

    def setText(self, text: str) -> None:
        self._plain = text
        self._wrapped_for = -1
        super().setText(text)
        self._rewrap()

    def _rewrap(self) -> None:
        width = self.contentsRect().width() - self.margin() * 2
        if width <= 0 or width == self._wrapped_for or not self.wordWrap():
            return
        self._wrapped_for = width
        font = self.font()
        size = font.pixelSize() if font.pixelSize() > 0 else font.pointSize()
        # two characters of slack: the stylesheet's padding and border are inside the contents rectangle, and a line
        # a hair too wide would be broken again by Qt, between any two characters
        wrapped = wrap_text(self._plain, size, width - 2 * size, bold=font.bold())
        if wrapped != super().text():
            super().setText(wrapped)

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._rewrap()


def label(text: str, *, kind: str = "page", name: str = "", wrap: bool = True) -> QLabel:
    """A text label with an accessible name; word-wrapped by default (at sensible points for Chinese)."""
    widget = WrappedLabel(text) if wrap and text else QLabel(text)
    widget.setWordWrap(wrap)
    widget.setProperty("kind", kind)
    # Plain text, always: labels show text from the township (notices, a reviewer's reason) and from residents,
    # which must never be drawn as HTML (Qt's default guesses rich text from the first tag it sees). Set after
    # `kind`: it makes Qt create the label's accessible interface, and an error label must get the alert one.
    widget.setTextFormat(Qt.TextFormat.PlainText)
    widget.setAccessibleName(" ".join(text.split()) or " ")
    if name:
        widget.setObjectName(name)
    return widget


KEY_LABELS = {"back": N_("Delete"), "clear": N_("Clear all")}


class Keypad(QWidget):
    """A 12-key style keypad: 1–9, then X (or nothing), 0, delete; and a wide 'clear all' key.

    Each key calls `on_key` with a digit, `X`, `back` or `clear`. The keypad keeps no text itself: the screen owns
    what was typed (so going back one screen never loses it).
    """

    def __init__(self, *, on_key: Callable[[str], object], with_x: bool, key_px: int, gap_px: int) -> None:
        super().__init__()
        self.setObjectName("keypad")
        self.setAccessibleName(_("Number keypad"))
        grid = QGridLayout(self)
        grid.setSpacing(gap_px)
        grid.setContentsMargins(0, 0, 0, 0)
        keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "X" if with_x else "", "0", "back"]
        for index, key in enumerate(keys):
            if not key:
                continue
            text = _(KEY_LABELS[key]) if key in KEY_LABELS else key
            widget = button(text, name=f"key_{key}", kind="key", on_click=partial(on_key, key))
            widget.setMinimumSize(key_px, key_px)
            widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            if key == "X":
                widget.setAccessibleDescription(
                    _("The letter X, only for the last character of an ID number")
                )
            grid.addWidget(widget, index // 3, index % 3)
        clear = button(_(KEY_LABELS["clear"]), name="key_clear", kind="key", on_click=lambda: on_key("clear"))
        clear.setMinimumHeight(key_px)
        grid.addWidget(clear, 4, 0, 1, 3)


_alert_factory_installed = False


def alerts_for_screen_readers() -> None:
    """Error messages (labels of kind `error`) are alerts to screen readers: Orca speaks an alert when it appears,
    where a plain label is read only when the user goes looking. Installed before the first error label is made
    (not at start-up: QtGui's accessibility types are not needed to show home)."""
    global _alert_factory_installed  # noqa: PLW0603 - one factory per process
    if _alert_factory_installed:
        return
    from PySide6.QtGui import QAccessible
    from PySide6.QtWidgets import QAccessibleWidget

    def factory(_class_name: str, obj: object) -> QAccessibleWidget | None:
        if isinstance(obj, QLabel) and obj.property("kind") == "error":
            return QAccessibleWidget(obj, QAccessible.Role.AlertMessage)
        return None

    QAccessible.installFactory(factory)
    _alert_factory_installed = True


def announce_alert(widget: QWidget) -> None:
    """Tell screen readers that the alert `widget` has just appeared."""
    from PySide6.QtGui import QAccessible, QAccessibleEvent

    if QAccessible.isActive():
        QAccessible.updateAccessibility(QAccessibleEvent(widget, QAccessible.Event.Alert))
