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
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from cunzhan.i18n import gettext as _
from cunzhan.i18n import sentences
from kiosk.ui import widgets

if TYPE_CHECKING:
    from kiosk.accessibility.profiles import Profile
    from kiosk.ui.context import KioskContext, Visit
    from kiosk.ui.theme import Theme
    from kiosk.ui.window import KioskWindow


STOPS = set("。．.？?！!")
NEXT_PAGE_KEY = 9  # blind mode: the number keys choose; these two turn the page
PREVIOUS_PAGE_KEY = 7


@dataclass(frozen=True, slots=True)
class Choice:
    """One main choice on a screen."""

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
    choice_growth: ClassVar[float] = (
        1.5  # how much taller than their text choice buttons may grow into spare room
    )
    safe_choice: ClassVar[str] = (
        ""  # key of the choice focus starts on (e.g. 不取消 on a destructive question)
    )

    def __init__(self, window: KioskWindow) -> None:
        super().__init__()
        self.win = window
        self.setObjectName(f"screen_{self.name}")
        self.setProperty("kind", "page")
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # holds focus when no button should look chosen
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
            self._keypad = widgets.Keypad(
                on_key=on_key, with_x=with_x, key_px=self.theme.target_px, gap_px=self.theme.gap_px
            )
            self._keypad_key = key
        return self._keypad

    @property
    def has_side_panel(self) -> bool:
        return self._width < self.content_width()

    def on_enter(self) -> None:
        """Load what the screen shows; called before every render on arrival."""

    def on_leave(self) -> None:
        """Another screen is about to be shown (or none: home starts afresh); stop what this one started."""

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
        if name == "identify" and self.visit.consent_at is None:
            name = "consent"  # the personal-data notice comes before the ID number (screens/consent.py)
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
        """Title, message, announcement, the choices on this page — each said whole, with its detail (full or places
        left, the doctor or teacher) and numbered in blind mode — where the page is, and `closing()` (the key fact
        again) at the end."""
        parts = [self.title(), self.announcement()]
        if self.message:
            parts.insert(1, self.message)
        shown = self.visible_choices()
        if shown:
            parts.append(self.spoken_choices(shown))
        if self.page_count() > 1:
            parts.append(self.spoken_page())
        parts.append(self.closing())
        return sentences(
            *(p if p.rstrip()[-1:] in STOPS else p.rstrip() + _(".") for p in parts if p.strip())
        )

    def spoken_choices(self, shown: list[Choice]) -> str:
        def whole(choice: Choice) -> str:
            detail = " ".join(choice.detail.split())
            if not detail:
                return choice.label
            if choice.label.rstrip()[-1:] in STOPS:  # 还要办别的事吗？ then its detail, no comma between
                return f"{choice.label.rstrip()}{detail}"
            return _("{label} ({detail})").format(label=choice.label, detail=detail)

        if self.takes_digits:  # the number keys type here: Enter confirms, the arrows reach the rest
            first = _("When you have finished typing, press Enter for {label}").format(label=whole(shown[0]))
            rest = [whole(c) for c in shown[1:]]
            if not rest or not self.profile.keypad_driven:
                return first
            return sentences(
                first + _("."), _("With the arrow keys: {choices}").format(choices=_(", ").join(rest))
            )
        if self.profile.numbered_choices:
            return _("; ").join(
                _("press {n} for {label}").format(n=i + 1, label=whole(c)) for i, c in enumerate(shown)
            )
        return _("You can choose: {choices}").format(choices=_(", ").join(whole(c) for c in shown))

    def spoken_page(self) -> str:
        """「第2页，共3页」 and the one key to the next (and previous) page."""
        where = _("Page {page} of {pages}").format(page=self.page + 1, pages=self.page_count())
        if not self.profile.numbered_choices:
            return where
        keys = []
        if self.page + 1 < self.page_count():
            keys.append(_("press {n} for the next page").format(n=NEXT_PAGE_KEY))
        if self.page > 0:
            keys.append(_("press {n} for the previous page").format(n=PREVIOUS_PAGE_KEY))
        return where + _(", ") + _(", ").join(keys)

    def closing(self) -> str:
        """Said last, after the choices: the screen's key fact again (a booking number, a time, a room)."""
        return ""

    @property
    def takes_digits(self) -> bool:
        """Whether the number keys type on this screen (then they do not choose)."""
        return False

    def focus_target(self) -> QWidget | None:
        """Where keyboard, keypad and screen-reader focus starts: the safe choice when the screen has one (never the
        destructive one), else the first choice, else the first button; None leaves no control focused."""
        buttons = [b for b in self.findChildren(QPushButton) if b.isVisibleTo(self) and b.isEnabled()]
        if self.safe_choice:
            for b in buttons:
                if b.objectName() == f"choice_{self.safe_choice}":
                    return b
        choices = [b for b in buttons if b.objectName().startswith("choice_")]
        found = choices or buttons
        return found[0] if found else None

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
        alert = self._message_line(box)
        self.build_body(box)
        self._all = self.choices()
        size = self.page_size()
        self.page = min(self.page, max(0, math.ceil(len(self._all) / size) - 1))
        shown = self._all[self.page * size : (self.page + 1) * size]
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
        if alert is not None:
            widgets.announce_alert(alert)
        for button in body.findChildren(QPushButton):  # now styled: never shorter than its text needs
            button.setMinimumHeight(max(button.minimumHeight(), button.sizeHint().height()))
            button.setMaximumHeight(max(button.maximumHeight(), button.minimumHeight()))

    def _message_line(self, box: QVBoxLayout) -> QLabel | None:
        """The message line, if any; returns it when it is an error (an alert for screen readers)."""
        if not self.message:
            return None
        if self.message_kind == "error":
            widgets.alerts_for_screen_readers()
        line = widgets.label(self.message, kind=self.message_kind, name="message")
        box.addWidget(line)
        return line if self.message_kind == "error" else None

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
            if (
                self.profile.numbered_choices and not self.takes_digits
            ):  # where the number keys type, no numbers
                text = f"{index + 1}. {text}"
            full = text if not choice.detail else f"{text}\n{choice.detail}"
            # the detail is part of the name (said once, not again as a description)
            widget = widgets.button(
                wrap_text_for(full, theme.text_px, width),
                name=f"choice_{choice.key}",
                kind=choice.kind,
                on_click=choice.action,
            )
            widget.setAccessibleName(" ".join(f"{text} {choice.detail}".split()))
            lines = full.count("\n") + 1
            wrapped_lines = widget.text().count("\n") + 1
            widget.setMinimumHeight(max(theme.choice_px, theme.lines_px(max(lines, wrapped_lines))))
            widget.setMaximumHeight(
                int(max(theme.choice_px, theme.lines_px(max(lines, wrapped_lines))) * self.choice_growth)
            )
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
        prev = widgets.button(
            _("Previous page"), name="page_prev", kind="secondary", on_click=self.previous_page
        )
        prev.setEnabled(self.page > 0)
        where = QLabel(_("Page {page} of {pages}").format(page=self.page + 1, pages=self.page_count()))
        where.setAccessibleName(where.text())
        where.setAlignment(Qt.AlignmentFlag.AlignCenter)
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
        """Choose the `number`-th shown choice (keypad in blind mode); 9 and 7 turn the page."""
        if number > len(self.shown_choices) and self.page_count() > 1:
            if number == NEXT_PAGE_KEY and self.page + 1 < self.page_count():
                self.next_page()
                return True
            if number == PREVIOUS_PAGE_KEY and self.page > 0:
                self.previous_page()
                return True
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

    secret: ClassVar[bool] = False  # a PIN: never spoken, not even through headphones (only counted)

    @property
    def takes_digits(self) -> bool:
        return True

    def entry(self) -> str:
        """What has been typed so far."""
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

    def typed_feedback(self, before: str, after: str) -> None:
        """Feedback for one key: the digit through private audio; on the loudspeaker its position (「第6位」), never
        the digit. Backspace says what it removed (privately) or how many are left; a full entry says so."""
        if after == before:
            if before and len(before) >= len(after):
                self.win.speech_routing.say_typed("", _("That is all the characters: press Enter"))
            return
        if len(after) > len(before):
            added = after[len(before) :]
            self.win.speech_routing.say_typed(
                "" if self.secret else spoken_chars(added),
                _("Character {n}").format(n=count_words(len(after))),
            )
        elif not after:
            self.win.speech_routing.say_typed("", _("All cleared"))
        else:
            removed = before[len(after) :]
            self.win.speech_routing.say_typed(
                "" if self.secret else _("Removed {chars}").format(chars=spoken_chars(removed)),
                _("Removed one, {n} left").format(n=count_words(len(after), quantity=True)),
            )

    def hear_typed(self) -> None:
        """The key to hear what has been typed: the characters through private audio, else how many."""
        entry = self.entry()
        count = (
            _("{n} typed").format(n=count_words(len(entry), quantity=True))
            if entry
            else _("Nothing typed yet")
        )
        self.win.speech_routing.say_typed("" if self.secret or not entry else spoken_chars(entry), count)


def spoken_chars(text: str) -> str:
    """Characters said one by one (X as the letter)."""
    return " ".join(text)


ZH_NUMBERS = "零一二三四五六七八九十"


def count_words(n: int, *, quantity: bool = False) -> str:
    """A small count as said in the screen's language: 六, 十八 in Chinese (words, not digits: a digit in a public
    prompt would read as a masked number), the number itself otherwise. A `quantity` of 2 before a measure word is
    两 (还有两位); as an ordinal it stays 二 (第二位)."""
    from cunzhan.i18n import current_locale

    if not current_locale().startswith("zh") or not 0 <= n < 100:
        return str(n)
    if n == 2 and quantity:
        return "两"
    if n <= 10:
        return ZH_NUMBERS[n]
    tens, ones = divmod(n, 10)
    return (ZH_NUMBERS[tens] if tens > 1 else "") + "十" + (ZH_NUMBERS[ones] if ones else "")


def wrap_text_for(text: str, font_px: int, width_px: int) -> str:
    return widgets.wrap_text(text, font_px, width_px, bold=True)


class MaskedKeypadEntry(KeypadEntry):
    """A keypad entry shown masked (an ID number, a phone number): the resident's own touch shows it in full for
    `REVEAL_MS`, then it is masked again; leaving the screen or the visit masks it at once."""

    REVEAL_MS: ClassVar[int] = 10_000

    def __init__(self, window: KioskWindow) -> None:
        from PySide6.QtCore import QTimer

        super().__init__(window)
        self.revealed = False
        self._hide_timer = QTimer(self)
        self._hide_timer.setSingleShot(True)
        self._hide_timer.timeout.connect(self.hide_number)

    def on_enter(self) -> None:
        self.hide_number()

    def forget(self) -> None:
        self._hide_timer.stop()
        self.revealed = False
        super().forget()

    def reveal(self) -> None:
        self.revealed = True
        self._hide_timer.start(self.REVEAL_MS)
        if self.win.current is self:
            self.win.refresh()

    def hide_number(self) -> None:
        self._hide_timer.stop()
        was = self.revealed
        self.revealed = False
        if was and self.win.current is self:
            self.win.refresh()

    def reveal_choice(self, prefix: str) -> Choice:
        """「显示号码」, or 「隐藏号码」 while it is shown (choice names `<prefix>_reveal` / `<prefix>_hide`)."""
        if self.revealed:
            return Choice(f"{prefix}_hide", _("Hide the number"), self.hide_number, kind="secondary")
        return Choice(
            f"{prefix}_reveal",
            _("Show the number"),
            self.reveal,
            kind="secondary",
            detail=_("Hidden again after 10 seconds"),
        )
