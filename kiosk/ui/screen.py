"""The base of every kiosk screen: declarative about its title, announcement and choices.

A screen subclass says
- `name` (unique, used by `KioskWindow.show_screen(name)` and in screenshot file names),
- `title()` and `announcement()` (translated text; the announcement says where you are and what to do),
- `choices()`: the main choices, each a `Choice` (label, action, voice phrases). The base class lays them out as big
  buttons, numbers them in blind mode, splits them into pages of at most `profile.max_choices` with 上一页/下一页,
  and gives their phrases to the voice grammar,
- optionally `build_body(box)` for anything above the choices (a summary, a keypad), and `on_digit` /
  `on_backspace` / `on_confirm` when it takes typed input.
The window draws the title bar, captions, the message line and the bar of global controls (返回, 首页, 重听, 说话,
呼叫工作人员) around it. Screens keep nothing personal themselves: what the resident entered lives in `ctx.visit`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from kiosk.i18n import gettext as _
from kiosk.ui import widgets
from kiosk.ui.words import sentences

if TYPE_CHECKING:
    from kiosk.accessibility.profiles import Profile
    from kiosk.ui.context import KioskContext, Visit
    from kiosk.ui.theme import Theme
    from kiosk.ui.window import KioskWindow


STOPS = set("。．.？?！!")


class Choice(NamedTuple):
    """One main choice on a screen. (A NamedTuple: see kiosk.ui.theme.Palette.)"""

    key: str  # stable id: the button's object name is `choice_<key>`
    label: str  # translated, short
    action: Callable[[], object]
    detail: str = ""  # a second line in smaller words (time, seats left, status)
    phrases: Sequence[str] = ()  # extra words that choose it by voice
    kind: str = "primary"  # `full` for a full session: still a real choice (it offers alternatives)


class Screen(QWidget):
    """A screen of the kiosk. Subclasses override the declarative parts; the base builds the widgets."""

    name: ClassVar[str] = ""
    show_back: ClassVar[bool] = True
    columns: ClassVar[int] = 2  # choice buttons per row (1 for long labels)
    choice_growth: ClassVar[float] = 1.5  # how much taller than their text choice buttons may grow into spare room

    def __init__(self, window: KioskWindow) -> None:
        super().__init__()
        self.win = window
        self.setObjectName(f"screen_{self.name}")
        self.setProperty("kind", "page")
        # Holds focus when no button should look chosen. By number: home is shown before `Qt` is made (widgets).
        self.setProperty("focusPolicy", widgets.CLICK_FOCUS)
        self.page = 0
        self.message = ""
        self.message_kind = "error"
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._body: QWidget | None = None
        self.shown_choices: list[Choice] = []
        self._all: list[Choice] = []
        self._width = 0
        self._keypad: QWidget | None = None
        self._keypad_key: tuple[int, bool] | None = None

    # --- what subclasses declare ------------------------------------------------------------------------------------

    def title(self) -> str:
        raise NotImplementedError

    def announcement(self) -> str:
        """Where the resident is and what to do (the choices are added by `spoken_announcement`)."""
        raise NotImplementedError

    def choices(self) -> list[Choice]:
        return []

    def build_body(self, box: QVBoxLayout) -> None:
        """Add widgets above the choices (summaries, keypads)."""

    def side_panel(self) -> QWidget | None:
        """A panel beside the body (the keypad of typing screens, the slip picture); None for most screens."""
        return None

    def kept_keypad(self, *, on_key: Callable[[str], object], with_x: bool) -> QWidget:
        """The screen's keypad, built once per look (typing a digit redraws the screen, not its 13 keys)."""
        key = (id(self.theme), with_x)
        if getattr(self, "_keypad_key", None) != key or self._keypad is None:
            self._keypad = widgets.Keypad(on_key=on_key, with_x=with_x, key_px=self.theme.target_px,
                                          gap_px=self.theme.gap_px)
            self._keypad_key = key
        return self._keypad

    @property
    def has_side_panel(self) -> bool:
        return self._width < self.content_width()

    def on_enter(self) -> None:
        """Load what the screen shows; called before every render on arrival."""

    def on_digit(self, key: str) -> bool:
        """A digit or X typed on the keyboard or keypad; return True when the screen used it."""
        return False

    def on_backspace(self) -> bool:
        return False

    def on_confirm(self) -> bool:
        """Enter pressed with no button focused; return True when handled."""
        return False

    # --- helpers for subclasses -------------------------------------------------------------------------------------

    @property
    def ctx(self) -> KioskContext:
        return self.win.ctx

    @property
    def visit(self) -> Visit:
        return self.win.ctx.visit

    @property
    def theme(self) -> Theme:
        return self.win.theme

    @property
    def profile(self) -> Profile:
        return self.win.ctx.profile

    def go(self, name: str) -> None:
        self.win.show_screen(name)

    def show_message(self, text: str, kind: str = "error", *, speak: bool = True) -> None:
        """Show a kind message on this screen (and speak it in the speaking profiles)."""
        self.message = text
        self.message_kind = kind
        if self.win.current is self:
            self.win.refresh()
        else:
            self.redraw()
        if speak:
            self.win.say(text)

    def content_width(self) -> int:
        return max(600, self.win.width() - 2 * self.theme.margin_px)

    # --- building ---------------------------------------------------------------------------------------------------

    def page_size(self) -> int:
        return max(1, self.profile.max_choices)

    def page_count(self) -> int:
        return max(1, math.ceil(len(self._all) / self.page_size()))

    def visible_choices(self) -> list[Choice]:
        """The choices on the current page (as of the last render)."""
        return self.shown_choices

    def spoken_announcement(self) -> str:
        """Title, announcement and the choices on this page (numbered in blind mode)."""
        parts = [self.title(), self.announcement()]
        if self.message:
            parts.insert(1, self.message)
        shown = self.visible_choices()
        if shown:
            if self.profile.numbered_choices:
                numbered = [_("press {n} for {label}").format(n=i + 1, label=c.label) for i, c in enumerate(shown)]
                parts.append(_("; ").join(numbered))
            else:
                parts.append(_("You can choose: {choices}").format(choices=_(", ").join(c.label for c in shown)))
        return sentences(*(p if p.rstrip()[-1:] in STOPS else p.rstrip() + _(".") for p in parts if p.strip()))

    def forget(self) -> None:
        """The visit ended: drop every widget this screen drew (they may show a number, a code, a name) and any
        state of its own; the next `redraw` draws from the new visit."""
        self.page = 0
        self.message = ""
        self.shown_choices = []
        self._all = []
        if self._body is not None:
            self._layout.removeWidget(self._body)
            self._body.hide()
            self._body.deleteLater()  # the kept keypad goes with it: rebuilt on the next visit
            self._body = None
            self._keypad = None
            self._keypad_key = None

    def redraw(self) -> None:
        """Rebuild the body: message line, subclass body, choices, pager."""
        theme = self.theme
        body = QWidget()
        body.setProperty("kind", "page")
        side = self.side_panel()
        if side is None:
            box = QVBoxLayout(body)
            box.setContentsMargins(theme.margin_px, theme.gap_px, theme.margin_px, theme.gap_px)
            self._width = self.content_width()
        else:  # e.g. typing screens: what was typed and the choices on the left, the keypad on the right
            row = QHBoxLayout(body)
            row.setContentsMargins(theme.margin_px, theme.gap_px, theme.margin_px, theme.gap_px)
            row.setSpacing(theme.gap_px * 2)
            box = QVBoxLayout()
            row.addLayout(box, 1)
            row.addWidget(side, 1)
            self._width = (self.content_width() - theme.gap_px * 2) // 2
        box.setSpacing(theme.gap_px)
        if self.message:
            box.addWidget(widgets.label(self.message, kind=self.message_kind, name="message"))
        self.build_body(box)
        self._all = self.choices()
        size = self.page_size()
        self.page = min(self.page, max(0, math.ceil(len(self._all) / size) - 1))
        shown = self._all[self.page * size:(self.page + 1) * size]
        self.shown_choices = shown
        if shown:
            box.addWidget(self._choice_grid(shown), 1)
        if self.page_count() > 1:
            box.addLayout(self._pager())
        if not shown:
            box.addStretch(1)
        if self._body is not None:
            if side is not None and side.parent() is self._body:
                side.setParent(body)  # a kept keypad moves to the new body instead of being rebuilt
            self._layout.removeWidget(self._body)
            self._body.hide()
            self._body.deleteLater()
        self._body = body
        self._layout.addWidget(body)
        body.show()  # at once: a layout would only show it on the next pass of the event loop
        for button in body.findChildren(QPushButton):  # now styled: never shorter than its text needs
            button.setMinimumHeight(max(button.minimumHeight(), button.sizeHint().height()))
            button.setMaximumHeight(max(button.maximumHeight(), button.minimumHeight()))

    def _choice_grid(self, shown: list[Choice]) -> QWidget:
        theme = self.theme
        holder = QWidget()
        grid = QGridLayout(holder)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(theme.gap_px)
        columns = 1 if len(shown) == 1 or self.has_side_panel else self.columns
        width = (self._width - (columns - 1) * theme.gap_px) // columns - 4 * theme.px(3)
        for index, choice in enumerate(shown):
            text = choice.label
            if self.profile.numbered_choices:
                text = f"{index + 1}. {text}"
            full = text if not choice.detail else f"{text}\n{choice.detail}"
            widget = widgets.button(wrap_text_for(full, theme.text_px, width), name=f"choice_{choice.key}",
                                    kind=choice.kind, on_click=choice.action, description=choice.detail)
            widget.setAccessibleName(" ".join(f"{text} {choice.detail}".split()))
            lines = full.count("\n") + 1
            wrapped_lines = widget.text().count("\n") + 1
            widget.setMinimumHeight(max(theme.choice_px, theme.lines_px(max(lines, wrapped_lines))))
            widget.setMaximumHeight(int(max(theme.choice_px, theme.lines_px(max(lines, wrapped_lines)))
                                        * self.choice_growth))
            widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            grid.addWidget(widget, index // columns, index % columns)
        rows = math.ceil(len(shown) / columns)
        for row in range(rows):  # choices grow into spare room up to their maximum; the rest goes below
            grid.setRowStretch(row, 3)
        grid.setRowStretch(rows, 1)
        return holder

    def _pager(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(self.theme.gap_px)
        prev = widgets.button(_("Previous page"), name="page_prev", kind="secondary", on_click=self.previous_page)
        prev.setEnabled(self.page > 0)
        where = QLabel(_("Page {page} of {pages}").format(page=self.page + 1, pages=self.page_count()))
        where.setAccessibleName(where.text())
        where.setProperty("alignment", widgets.ALIGN_CENTER)
        nxt = widgets.button(_("Next page"), name="page_next", kind="secondary", on_click=self.next_page)
        nxt.setEnabled(self.page + 1 < self.page_count())
        row.addWidget(prev)
        row.addWidget(where)
        row.addWidget(nxt)
        return row

    def previous_page(self) -> None:
        if self.page > 0:
            self.page -= 1
            self.win.refresh(announce=True)

    def next_page(self) -> None:
        if self.page + 1 < self.page_count():
            self.page += 1
            self.win.refresh(announce=True)

    def choose_number(self, number: int) -> bool:
        """Choose the `number`-th shown choice (keypad in blind mode)."""
        if 1 <= number <= len(self.shown_choices):
            self.shown_choices[number - 1].action()
            return True
        return False

    def voice_phrases(self) -> list[str]:
        """Everything that chooses something on this screen by voice."""
        phrases: list[str] = []
        for choice in self.visible_choices():
            phrases.append(choice.label)
            phrases.extend(choice.phrases)
        return phrases


def typed(text: str, key: str, limit: int, *, allowed: str = "0123456789") -> str:
    """`text` after one key of an on-screen or physical keypad: `back` deletes, `clear` empties, an allowed
    character is added while `text` is shorter than `limit`; anything else changes nothing."""
    if key == "back":
        return text[:-1]
    if key == "clear":
        return ""
    if len(key) == 1 and key in allowed and len(text) < limit:
        return text + key
    return text


class KeypadEntry(Screen):
    """A screen whose entry is typed on a keypad: keyboard digits and Backspace go to `key()`, Enter to `submit()`."""

    def key(self, key: str) -> None:
        """Apply one keypad key (a digit, `back` or `clear`) to the entry."""
        raise NotImplementedError

    def submit(self) -> None:
        """Enter, or the screen's confirm button."""
        raise NotImplementedError

    def on_digit(self, key: str) -> bool:
        if key.isdigit():
            self.key(key)
            return True
        return False

    def on_backspace(self) -> bool:
        self.key("back")
        return True

    def on_confirm(self) -> bool:
        self.submit()
        return True


def wrap_text_for(text: str, font_px: int, width_px: int) -> str:
    return widgets.wrap_text(text, font_px, width_px, bold=True)
