"""The kiosk window: navigation between screens, the global controls, input rules, idle safety and lock-down.

Navigation API (small on purpose; staff screens in `kiosk/ui/staff/` use the same):

    window.register(ScreenClass)     # a `kiosk.ui.screen.Screen` subclass with a unique `name`
    window.register_lazy(name, loader)   # or imported on first show: `loader(name)` returns the class
    window.show_screen(name)         # go forward (the current screen is remembered for 返回)
    window.show_screen(name, remember=False)   # go without a way back (after a booking is written)
    window.back()                    # 返回 / Esc
    window.back_to(name)             # back several screens at once (e.g. to the time list), entries kept
    window.go_home()                 # 首页: with anything personal in the visit, ends it (as end_visit)
    window.continue_visit()          # 「还要办别的事」: home, the identified resident kept for one more errand
    window.end_visit()               # forget everything the resident entered, default profile, home
    window.set_profile(profile)      # 长辈模式 and the other modes: restyles and re-announces
    window.say(text)                 # speak (speaking profiles) and caption (hearing profile)
    window.set_speech(speech)        # speech out and voice commands (the real engines are started after
    window.set_voice(voice)          #   the first screen is shown)
    window.current                   # the Screen on show
    window.request_exit()            # the only way out when locked down: asks for the staff PIN

Input rules applied to the whole window by `InputRules` (an application event filter): any touch or key stops speech
and restarts the idle timer; repeated touches within 0.5 s count once (tremor); double clicks are ignored (no gesture
but a single tap); keys: digits (and X) type or choose, Enter confirms, Backspace deletes, Esc goes back, arrows and
Tab move focus, 5 or F1 repeats, Ctrl+Shift+F12 asks for the staff PIN.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent, QMouseEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QHBoxLayout,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from cunzhan.i18n import gettext as _
from kiosk import settings as S
from kiosk.accessibility.api import SpeechOut, VoiceIn
from kiosk.accessibility.profiles import ELDER, STANDARD, Profile, Speech
from kiosk.ui import widgets
from kiosk.ui.context import KioskContext
from kiosk.ui.screen import Screen
from kiosk.ui.theme import Theme

TREMOR_S = 0.5
NO_FOCUS = 0x0  # Qt.FocusPolicy.NoFocus (by number: see kiosk.ui.widgets)
WARNING_S = 30  # ≥ 20 s between the idle warning and the timeout (ACCESSIBILITY.md)
SPOKEN_DIGITS = {
    "零": "0",
    "〇": "0",
    "一": "1",
    "幺": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
    "X": "X",
    "x": "X",
    "叉": "X",
}
GLOBAL_COMMANDS = {
    "back": ("返回", "back"),
    "repeat": ("重听", "repeat"),
    "home": ("首页", "home"),
    "staff": ("呼叫工作人员", "帮助", "help", "staff"),
}


class KioskWindow(QWidget):
    """The one kiosk window."""

    sync_changed = Signal()  # emitted from any thread when the sync engine changes the link state

    def __init__(
        self, ctx: KioskContext, *, locked: bool = False, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.locked = locked
        self.setObjectName("window")
        self.setWindowTitle(_("Village service kiosk"))
        self.setAccessibleName(_("Village service kiosk"))
        self.theme = Theme(ctx.profile, ctx.dpi)
        self._classes: dict[str, type[Screen]] = {}
        self._loaders: dict[str, Callable[[str], type[Screen]]] = {}
        self._screens: dict[str, Screen] = {}
        self._history: list[str] = []
        # Run, in order, when a visit ends (idle timeout, home, staff leaving), before the resident is forgotten:
        # a hook list, as Anki's gui_hooks, so other parts (staff mode) add to the end of a visit without
        # replacing it.
        self.before_end_visit: list[Callable[[], None]] = []
        self.current: Screen | None = None
        self._announced = False
        self._keep_visit_once = False  # continue_visit: this one arrival home keeps the resident
        self._last_prompt = ""  # what 重听 says again: the screen's announcement or the last message
        self._held_private: tuple[str, str] | None = (
            None  # a read-back for the start of the next announcement
        )
        self.keyboard_used = False  # set by the first key press: from then on focus is shown on arrival
        self._build_frame()
        self.input_rules = InputRules(self, clock=clock)
        self.idle = IdleGuard(self)
        # From the sync thread this is queued to the main thread by itself; from the main thread it waits for the
        # event loop too, so a refresh never runs inside whatever emitted it.
        self.sync_changed.connect(self._sync_changed_later)
        ctx.voice.on_command = self.on_voice_command
        ctx.speech.on_caption = self._caption
        self._apply_profile()

    # --- frame ------------------------------------------------------------------------------------------------------

    def _build_frame(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        self.bar = QWidget()
        self.bar.setObjectName("title_bar")
        self.bar.setProperty("kind", "bar")  # a plain QWidget: the stylesheet paints its background by itself
        bar_row = self.bar_row = QHBoxLayout(self.bar)
        self.title_label = widgets.label("", kind="title", name="title", wrap=True)
        bar_row.addWidget(self.title_label, 1)
        # 长辈模式 stands out on standard home; its look is set here, before the stylesheet first polishes it (a later
        # change of look re-polishes, which makes PySide's `Qt` namespace: see kiosk.ui.widgets)
        self.mode_button = widgets.button(
            "",
            name="mode_toggle",
            on_click=self.toggle_elder,
            kind="elder" if self.ctx.profile.name == "standard" else "secondary",
        )
        self.more_modes_button = widgets.button(
            _("Other help"), name="modes", kind="secondary", on_click=lambda: self.show_screen("modes")
        )
        for extra in (self.mode_button, self.more_modes_button):
            extra.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
            bar_row.addWidget(extra)
        outer.addWidget(self.bar)
        from kiosk.practice import banner_text, is_practice_store

        if is_practice_store(self.ctx.store):  # practice mode: said on every screen, nothing is kept
            outer.addWidget(widgets.label(banner_text(), kind="notice", name="practice_banner"))
        self.caption_label = widgets.label("", kind="caption", name="caption")
        self.caption_label.hide()
        outer.addWidget(self.caption_label)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack, 1)
        self.nav = QWidget()
        self.nav.setObjectName("nav_bar")
        self.nav.setProperty("kind", "page")
        nav_row = self.nav_row = QHBoxLayout(self.nav)
        self.back_button = widgets.button(_("Back"), name="nav_back", kind="secondary", on_click=self.back)
        self.home_button = widgets.button(_("Home"), name="nav_home", kind="secondary", on_click=self.go_home)
        self.repeat_button = widgets.button(
            _("Repeat"), name="nav_repeat", kind="secondary", on_click=self.repeat
        )
        self.talk_button = widgets.button(
            _("Speak"),
            name="nav_talk",
            kind="secondary",
            on_click=self.talk,
            description=_("Say what you want instead of touching"),
        )
        self.staff_button = widgets.button(
            _("Call staff"), name="nav_staff", kind="secondary", on_click=self.call_staff
        )
        for b in (
            self.back_button,
            self.home_button,
            self.repeat_button,
            self.talk_button,
            self.staff_button,
        ):
            nav_row.addWidget(b)
        outer.addWidget(self.nav)
        self._warning: IdleWarning | None = None  # made the first time it is needed (see `warning`)

    # --- screens ----------------------------------------------------------------------------------------------------

    def register(self, screen_class: type[Screen]) -> None:
        """Make a screen reachable by its `name` (built the first time it is shown)."""
        if not screen_class.name:
            raise ValueError("a screen needs a name")
        self._classes[screen_class.name] = screen_class

    def register_lazy(self, name: str, loader: Callable[[str], type[Screen]]) -> None:
        """Make a screen reachable by `name`; `loader(name)` imports its class the first time it is shown."""
        self._loaders[name] = loader

    def screen_named(self, name: str) -> Screen:
        """The screen object for `name` (built on first use)."""
        if name not in self._classes and name in self._loaders:
            self._classes[name] = self._loaders[name](name)
        if name not in self._screens:
            built = self._classes[name](self)
            self._screens[name] = built
            self.stack.addWidget(built)
        return self._screens[name]

    def show_screen(self, name: str, *, remember: bool = True, announce: bool = True) -> Screen:
        """Show the screen `name`; `remember` lets 返回 come back to the current one."""
        target = self.screen_named(name)
        if name == "home":
            self._arrive_home()
            remember = False
        if self.current is not None and remember and self.current is not target:
            self._history.append(self.current.name)
        if self.current is not target:
            target.page = 0
            target.message = ""
        self.current = target
        target.on_enter()
        self._draw(announce=announce)
        return target

    def back(self) -> None:
        """返回: the previous screen, with everything entered still there."""
        if self.current is None or not self.current.show_back:
            return
        name = self._history.pop() if self._history else "home"
        if name == "home":
            self.go_home()  # back to home is home: the visit ends there as it does by 首页
            return
        target = self.screen_named(name)
        target.message = ""
        self.current = target
        target.on_enter()
        self._draw(announce=True)

    def back_to(self, name: str, *, announce: bool = True) -> Screen:
        """Go back to the earlier screen `name` (dropping the ones after it), everything entered kept."""
        if name == "home":
            self.go_home()
            assert self.current is not None
            return self.current
        while self._history and self._history[-1] != name:
            self._history.pop()
        if self._history:
            self._history.pop()
        target = self.screen_named(name)
        target.message = ""
        self.current = target
        target.on_enter()
        self._draw(announce=announce)
        return target

    def go_home(self) -> None:
        """首页. Arriving home with anything personal in the visit (an identified resident, anything typed) ends
        the visit: the next person at the kiosk must not find the last one's bookings, number or name."""
        self._history.clear()
        self.current = None
        self.show_screen("home", remember=False)

    def continue_visit(self) -> None:
        """「还要办别的事」 on the done screen: home for another errand, the resident still known (and their mode
        kept); everything else of the errand just finished is forgotten. The next way home ends the visit."""
        visit = self.ctx.visit  # the same visit (a question asked once per visit is not asked again)
        resident, consent_at = visit.resident, visit.consent_at  # the notice, too, was answered in this visit
        for name in list(vars(visit)):
            delattr(visit, name)  # back to the class defaults
        visit.reasons = []
        visit.resident = resident
        visit.consent_at = consent_at
        self._forget_screens()
        self._history.clear()
        self.current = None
        self._keep_visit_once = True
        try:
            self.show_screen("home", remember=False)
        finally:
            self._keep_visit_once = False

    def end_visit(self) -> None:
        """Forget the resident: entries, choices, profile; back to home with the default voice and volume."""
        for hook in self.before_end_visit:
            hook()
        self._forget_visit()
        self.go_home()

    def _arrive_home(self) -> None:
        if self.ctx.visit.has_personal() and not self._keep_visit_once:
            self._forget_visit()

    def _forget_visit(self) -> None:
        """Everything of the visit gone from memory and from every screen, the default profile and voice back."""
        self.ctx.end_visit()
        self.keyboard_used = False
        self._last_prompt = ""
        self._held_private = None
        self._history.clear()
        self._forget_screens()
        self.caption_label.clear()
        self.caption_label.setAccessibleName("")
        if self._warning is not None:
            self._warning.hide()
        self._apply_profile(redraw=False)

    def _forget_screens(self) -> None:
        """Drop what every built screen drew (numbers, codes, names lingering in hidden widgets); each screen is
        drawn afresh from the (new) visit the next time it is shown."""
        for screen in self._screens.values():
            screen.forget()
        self.caption_label.clear()

    def refresh(self, *, announce: bool = False) -> None:
        """Redraw the current screen (after its data changed)."""
        if self.current is not None:
            self._draw(announce=announce)

    def _draw(self, *, announce: bool) -> None:
        screen = self.current
        if screen is None:
            return
        screen.redraw()
        self.stack.setCurrentWidget(screen)
        self.title_label.setText(screen.title())
        self.title_label.setAccessibleName(screen.title())
        self.setWindowTitle(screen.title())  # screen readers name the window by the screen it shows
        self.setAccessibleName(screen.title())
        on_home = screen.name == "home"
        self.back_button.setVisible(not on_home and screen.show_back)
        self.home_button.setVisible(not on_home)
        self.talk_button.setVisible(not self.ctx.profile.listen_between_prompts)
        name = self.ctx.profile.name
        self.mode_button.setText(
            _("Elder mode: large text")
            if name == "standard"
            else _("Leave elder mode")
            if name == "elder"
            else _("Standard mode")
        )
        self.mode_button.setAccessibleName(self.mode_button.text())
        # On standard home 长辈模式 is the most visible thing; leaving a mode is a touch away but never in the Tab or
        # arrow order, where a keypad user would land on it by accident.
        wanted = "elder" if name == "standard" else "secondary"
        if self.mode_button.property("kind") != wanted:
            widgets.set_kind(self.mode_button, wanted)
        self.mode_button.setProperty("focusPolicy", widgets.STRONG_FOCUS if name == "standard" else NO_FOCUS)
        self.ctx.voice.set_grammar(screen.voice_phrases())
        self._focus_first(screen)
        self.idle.arm()
        if announce:
            self.announce()

    def _focus_first(self, screen: Screen) -> None:
        """Keyboard, keypad and screen-reader users start on the screen's first control (its safe choice on a
        destructive question); touch users see no highlight (a yellow button nobody chose looks already chosen)."""
        target = None
        if (
            self.keyboard_used
            or self.ctx.profile.keypad_driven
            or (screen.name != "home" and screen_reader_on())
        ):
            target = screen.focus_target()
        (target or screen).setFocus()  # Qt's default reason, OtherFocusReason

    # --- speech, captions, voice ------------------------------------------------------------------------------------

    def announce(self) -> None:
        """Say (in speaking profiles) and caption (hearing profile) the current screen's announcement. A read-back
        held for it (`say_before_next`) is said first, in the same breath, so the new screen never cuts it off."""
        if self.current is None:
            return
        text = self.current.spoken_announcement()
        self._announced = self.ctx.profile.speaks
        self._last_prompt = text
        held, self._held_private = self._held_private, None
        if self.ctx.profile.speaks:
            if held is not None:
                self.ctx.speech.say_private(held[0], held[1], then=text)
            else:
                self.ctx.speech.say(text)
            if self.ctx.profile.listen_between_prompts:
                self.ctx.voice.start()
        if self.ctx.profile.captions:
            self._caption(text)

    def say(self, text: str) -> None:
        """Speak a message (errors, confirmations) in the speaking profiles; caption it when captions are on."""
        self._last_prompt = text
        held, self._held_private = self._held_private, None
        if self.ctx.profile.speaks and held is not None:
            self.ctx.speech.say_private(held[0], held[1], then=text)
        elif self.ctx.profile.speaks:
            self.ctx.speech.say(text)
        if self.ctx.profile.captions:
            self._caption(text)

    def say_private(self, clear: str, masked: str) -> None:
        """An ID or phone number: spoken in clear only through private audio (the speech object decides)."""
        if self.ctx.profile.speaks:
            self.ctx.speech.say_private(clear, masked)

    def say_before_next(self, clear: str, masked: str) -> None:
        """A read-back (`clear` through private audio only, else `masked`) said at the start of the next screen's
        announcement instead of being cut off by it."""
        self._held_private = (clear, masked)

    def private_audio(self) -> bool:
        """Whether a headphone jack gives private audio (setting `private_audio`)."""
        return bool(self.ctx.settings.get(S.PRIVATE_AUDIO))

    def say_typed(self, clear: str, public: str) -> None:
        """Feedback on a key typed into an entry: `clear` (the digit, what was removed, what is there) only through
        private audio; otherwise `public` (a position or a count, never a digit) on the loudspeaker. Short, not a
        caption, and 重听 still repeats the screen."""
        if not self.ctx.profile.speaks:
            return
        if self.private_audio() and clear:
            self.ctx.speech.say_private(clear, public)
        else:
            self.ctx.speech.say(public)

    def _caption(self, text: str) -> None:
        if not self.ctx.profile.captions:
            return
        self.caption_label.setText(text)
        self.caption_label.setAccessibleName(text)
        self.caption_label.show()

    def repeat(self) -> None:
        """重听: say the screen again (in the standard profile it is said for the first time)."""
        if self._announced and self._last_prompt:
            self.ctx.speech.say(self._last_prompt)  # the screen or its last message, never a typed digit
        elif self.current is not None:
            text = self.current.spoken_announcement()
            if self.ctx.profile.speech is not Speech.OFF:
                self.ctx.speech.say(text)
                self._announced = True
            if self.ctx.profile.captions:
                self._caption(text)

    def speak_focus(self) -> None:
        """Moving focus by keys says the focused control (the profiles that speak focus: low vision, blind)."""
        if self.ctx.profile.speech not in (Speech.SCREEN_AND_FOCUS, Speech.EVERYTHING):
            return
        focus = self.focusWidget()
        if focus is None or focus is self.current:
            return
        text = focus.accessibleName() or (focus.text() if isinstance(focus, QAbstractButton) else "")
        if not text.strip():
            return
        if not focus.isEnabled():
            text = _("{name}, not available").format(name=text)
        self.ctx.speech.say(" ".join(text.split()))

    def talk(self) -> None:
        """Push-to-talk: listen for the screen's choices, or say plainly why voice is unavailable."""
        voice = self.ctx.voice
        if not voice.available:
            if self.current is not None:
                self.current.show_message(voice.problem or _("Voice commands are not available."), "notice")
            return
        voice.start()

    def on_voice_command(self, phrase: str) -> None:
        """A recognised phrase: a global command, digits, yes/no, or one of the screen's choices."""
        said = phrase.strip()
        if said in GLOBAL_COMMANDS["back"] or said in ("否", "no"):
            self.back()
        elif said in GLOBAL_COMMANDS["repeat"]:
            self.repeat()
        elif said in GLOBAL_COMMANDS["home"]:
            self.go_home()
        elif said in GLOBAL_COMMANDS["staff"]:
            self.call_staff()
        elif self.current is not None and not self._spoken_digits(said):
            if said in ("是", "yes") and self.current.on_confirm():
                return
            for choice in self.current.visible_choices():
                if said == choice.label or said in choice.phrases:
                    choice.action()
                    return

    def _spoken_digits(self, said: str) -> bool:
        """Digits said aloud (零 一 幺 … 九, X): typed as on the keypad; in blind mode a digit chooses."""
        digits = "".join(SPOKEN_DIGITS.get(ch, ch) for ch in said.replace(" ", ""))
        if self.current is None or not digits or not all(ch.isdigit() or ch == "X" for ch in digits):
            return False
        for digit in digits:
            if self.current.on_digit(digit):
                continue
            if digit.isdigit() and self.ctx.profile.numbered_choices:
                self.current.choose_number(int(digit))
            break
        return True

    def set_speech(self, speech: SpeechOut) -> None:
        """Use `speech` from now on (the real engine is started after the first screen); the screen is said again
        in the speaking profiles, since the first time had no voice yet."""
        self.ctx.speech.stop()
        self.ctx.speech = speech
        speech.on_caption = self._caption
        self._apply_profile()
        if self.ctx.profile.speaks and self.current is not None:
            self.announce()

    def set_voice(self, voice: VoiceIn) -> None:
        """Use `voice` for voice commands from now on (it is started after the first screen is shown)."""
        self.ctx.voice.stop()
        self.ctx.voice = voice
        voice.on_command = self.on_voice_command
        if self.current is not None:
            voice.set_grammar(self.current.voice_phrases())
            if self.ctx.profile.listen_between_prompts:
                voice.start()

    def call_staff(self) -> None:
        """呼叫工作人员: record the call (staff mode shows it) and tell the resident someone is coming."""
        self.ctx.store.audit("resident", "staff_called", self.current.name if self.current else "")
        if self.current is not None:
            self.current.show_message(
                _("We have called the staff. Someone will come to help you soon."), "ok"
            )

    # --- profiles ---------------------------------------------------------------------------------------------------

    def set_profile(self, profile: Profile, *, redraw: bool = True) -> None:
        """Switch this visit to `profile`: new sizes and colours, speech rate, idle time; the screen is re-announced."""
        self.ctx.profile = profile
        self._apply_profile(redraw=redraw)

    def toggle_elder(self) -> None:
        """长辈模式 in one touch (and back to the standard mode from any other mode)."""
        self.set_profile(ELDER if self.ctx.profile.name == "standard" else STANDARD)

    def _apply_profile(self, *, redraw: bool = False) -> None:
        profile = self.ctx.profile
        theme = Theme(profile, self.ctx.dpi)
        sheet = theme.stylesheet()
        if sheet != self.styleSheet():  # restyling every widget is the costliest thing the window does
            self.theme = theme
            self.setStyleSheet(sheet)
        margin = self.theme.margin_px // 2
        for row in (self.bar_row, self.nav_row):
            row.setContentsMargins(margin, margin, margin, margin)
            row.setSpacing(self.theme.gap_px)
        self.ctx.speech.configure(
            rate_multiplier=profile.speech_rate, enabled=profile.speech is not Speech.OFF
        )
        self.caption_label.setVisible(profile.captions and bool(self.caption_label.text()))
        for bar_button in (*self.nav.findChildren(QAbstractButton), *self.bar.findChildren(QAbstractButton)):
            bar_button.ensurePolished()  # the global controls are never squeezed below what their text needs
            bar_button.setMinimumHeight(bar_button.sizeHint().height())
        if self._warning is not None:
            self._warning.restyle()
        if redraw:
            self._draw(announce=True)

    # --- lock-down --------------------------------------------------------------------------------------------------

    def request_exit(self) -> None:
        """The only way out of a locked kiosk: the staff PIN screen (closes the window when the PIN is right)."""
        if not self.locked:
            self.close()
            return
        self.show_screen("exit_pin")

    def unlock_and_close(self) -> None:
        self.locked = False
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.locked:
            event.ignore()  # Alt+F4 and the window manager's close do nothing on a locked kiosk
            return
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop timers and the input filter (the window is going away)."""
        self.idle.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self.input_rules)

    def showEvent(self, event: QShowEvent) -> None:
        self.input_rules.install()
        super().showEvent(event)

    @property
    def warning(self) -> IdleWarning:
        """The idle warning overlay (hidden until the idle time is up; built on first use)."""
        if self._warning is None:
            self._warning = IdleWarning(self)
            self._warning.hide()
            self._warning.ensurePolished()  # the stylesheet's sizes first, so restyle's minimum heights win
            self._warning.restyle()
            self._warning.setGeometry(self.rect())
        return self._warning

    def warning_shown(self) -> bool:
        """Whether the idle warning is on screen (without building it)."""
        return self._warning is not None and self._warning.isVisible()

    def resizeEvent(self, event: object) -> None:
        if self._warning is not None:
            self._warning.setGeometry(self.rect())
        super().resizeEvent(event)  # type: ignore[arg-type]

    def _sync_changed_later(self) -> None:
        QTimer.singleShot(0, self._on_sync_changed)

    def _on_sync_changed(self) -> None:
        if self.current is not None and self.current.name == "home":
            self.refresh()


def screen_reader_on() -> bool:
    """Whether a screen reader (Orca, NVDA) is using the window (not asked on home: the start-up keeps QtGui's
    accessibility types, and `Qt`, until after home is shown)."""
    from PySide6.QtGui import QAccessible

    return bool(QAccessible.isActive())


class InputRules(QObject):
    """Application-wide event filter for the window: tremor filter, no double tap, stop speech, idle, keys."""

    def __init__(self, window: KioskWindow, *, clock: Callable[[], float]) -> None:
        super().__init__(window)
        self.window = window
        self.clock = clock
        self.tremor_s = TREMOR_S
        self._last_press = -1e9
        self._swallow_release = False
        self._seen: tuple[int, int] | None = None
        self._installed = False
        self._enter_at = -1e9  # when Enter last opened another screen, and which
        self._entered_to: object = None
        self._arrowed_to: object = None  # the control the last arrow key moved to (Enter presses it once)
        # Ctrl+Shift+F11 before staff mode is installed (kiosk.ui.app.staff_entry_until_installed sets and clears it).
        self.early_staff_key: Callable[[], None] | None = None

    def install(self) -> None:
        """Start filtering the application's events (the window does it when first shown: the few hundred events of
        building and styling it before that would each cross into Python for nothing)."""
        app = QApplication.instance()
        if app is not None and not self._installed:
            app.installEventFilter(self)
            self._installed = True

    def _ours(self, obj: QObject) -> bool:
        return isinstance(obj, QWidget) and obj.window() is self.window

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (
            QEvent.Type.MouseButtonPress,
            QEvent.Type.MouseButtonRelease,
            QEvent.Type.MouseButtonDblClick,
            QEvent.Type.KeyPress,
        ):
            return False
        if not self._ours(obj):
            return False
        if kind == QEvent.Type.MouseButtonDblClick:
            return True  # a second tap is never a gesture
        if kind == QEvent.Type.MouseButtonPress:
            return self._press(event)  # type: ignore[arg-type]
        if kind == QEvent.Type.MouseButtonRelease:
            if self._swallow_release:
                self._swallow_release = False
                return True
            return False
        # The text-field types on the first key press, not at start-up (~3 ms before home is shown).
        from PySide6.QtWidgets import QAbstractSpinBox, QLineEdit, QPlainTextEdit, QTextEdit

        if isinstance(obj, QLineEdit | QAbstractSpinBox | QTextEdit | QPlainTextEdit):
            return self._text_key(event)  # type: ignore[arg-type]
        return self._key(event)  # type: ignore[arg-type]

    def _text_key(self, event: QKeyEvent) -> bool:
        """A key typed into a text field (staff screens): the field gets it; only Esc and F1 keep their meaning."""
        # Imported here, not at the top: home is shown before `Qt` is made (kiosk.ui.widgets).
        from PySide6.QtCore import Qt

        win = self.window
        win.ctx.speech.stop()
        win.keyboard_used = True
        win.idle.poke()
        if event.key() == Qt.Key.Key_Escape:
            win.back()
            return True
        if event.key() == Qt.Key.Key_F1:
            win.repeat()
            return True
        return False

    def _press(self, event: QMouseEvent) -> bool:
        identity = (int(event.timestamp()), int(event.type()))
        if identity == self._seen:
            return False  # the same press travelling up to a parent widget
        self._seen = identity
        now = self.clock()
        if now - self._last_press < self.tremor_s:
            self._swallow_release = True
            return True
        self._last_press = now
        self.window.ctx.speech.stop()
        self.window.idle.poke()
        return False

    def _key(self, event: QKeyEvent) -> bool:  # noqa: PLR0912, PLR0915 - one branch per key of the keypad
        from PySide6.QtCore import Qt  # see _text_key

        win = self.window
        win.ctx.speech.stop()
        win.keyboard_used = True
        if win.warning_shown():
            win.idle.more_time()
            return True
        win.idle.poke()
        screen = win.current
        if screen is None:
            return False
        key = event.key()
        mods = event.modifiers()
        text = event.text()
        control_shift = bool(
            mods & Qt.KeyboardModifier.ControlModifier and mods & Qt.KeyboardModifier.ShiftModifier
        )
        if key == Qt.Key.Key_F12 and control_shift:
            win.request_exit()
            return True
        if key == Qt.Key.Key_F11 and control_shift and self.early_staff_key is not None:
            self.early_staff_key()
            return True
        if key == Qt.Key.Key_Escape:
            win.back()
            return True
        if key == Qt.Key.Key_F1:
            win.repeat()
            return True
        if key in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete):
            screen.on_backspace()
            return True
        if key in (Qt.Key.Key_Asterisk, Qt.Key.Key_F2) or text == "*":
            hear = getattr(screen, "hear_typed", None)  # what has been typed so far (typing screens)
            if hear is not None:
                hear()
            return True
        if key in (Qt.Key.Key_NumberSign, Qt.Key.Key_F3) or text == "#":
            win.talk()  # start listening by a key (blind mode has no big button to find)
            return True
        if text and text in "0123456789xX":
            self._arrowed_to = None
            if screen.on_digit(text.upper()):
                return True
            if text == "5":
                win.repeat()
            elif text.isdigit() and win.ctx.profile.numbered_choices:
                screen.choose_number(int(text))
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            now = self.clock()
            if screen is self._entered_to and now - self._enter_at < self.tremor_s:
                return True  # a second Enter just after one that opened this screen: not this screen's choice
            focus = win.focusWidget()
            # An on-screen key (the ID's X) is pressed by Enter when the resident moved to it with the arrows;
            # otherwise Enter confirms what was typed, wherever focus happens to rest.
            on_key = (
                isinstance(focus, QAbstractButton)
                and focus.property("kind") == "key"
                and focus is not self._arrowed_to
            )
            if isinstance(focus, QAbstractButton) and focus.isVisible() and focus.isEnabled() and not on_key:
                self._arrowed_to = None  # pressed: the next Enter confirms
                focus.click()
            else:
                screen.on_confirm()
            self._enter_at = now
            self._entered_to = win.current if win.current is not screen else None
            return True
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Right, Qt.Key.Key_Tab):
            win.focusNextChild()
            self._arrowed_to = win.focusWidget()
            win.speak_focus()
            return True
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Left, Qt.Key.Key_Backtab):
            win.focusPreviousChild()
            self._arrowed_to = win.focusWidget()
            win.speak_focus()
            return True
        return False


class IdleGuard(QObject):
    """Idle safety: after the profile's idle time a warning with ≥ 20 s and 「我还需要时间」; then end the visit."""

    def __init__(self, window: KioskWindow) -> None:
        super().__init__(window)
        self.window = window
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.warn)
        self.countdown = QTimer(self)
        self.countdown.setInterval(1000)
        self.countdown.timeout.connect(self._tick)
        self.seconds_left = WARNING_S
        self._focus_before: QWidget | None = None

    def idle_ms(self) -> int:
        scale = float(self.window.ctx.settings.get(S.IDLE_SCALE) or 1.0)
        return max(1, int(self.window.ctx.profile.idle_s * scale * 1000))

    def arm(self) -> None:
        """(Re)start the idle timer."""
        if not self.window.warning_shown():
            self.timer.start(self.idle_ms())

    def poke(self) -> None:
        """Any touch or key: the resident is here."""
        self.arm()

    def _nothing_to_protect(self) -> bool:
        win = self.window
        return (
            win.current is not None
            and win.current.name == "home"
            and win.ctx.visit.is_empty()
            and win.ctx.profile == win.ctx.default_profile
        )

    def warn(self) -> None:
        """Show and say the warning; the visit ends after WARNING_S seconds unless the resident asks for time."""
        if self._nothing_to_protect():
            self.arm()
            return
        self.seconds_left = WARNING_S
        self._focus_before = QApplication.focusWidget()
        self.window.warning.show_warning(self.seconds_left)
        self.window.say(self.window.warning.text())
        self.countdown.start()

    def _tick(self) -> None:
        self.seconds_left -= 1
        if self.seconds_left <= 0:
            self.expire()
        else:
            self.window.warning.show_warning(self.seconds_left)

    def more_time(self) -> None:
        """「我还需要时间」 (the button, or any key): the warning goes and focus is back where it was."""
        self.countdown.stop()
        self.window.warning.hide()
        back_to = self._focus_before
        self._focus_before = None
        if back_to is not None and back_to.isVisible():
            back_to.setFocus()
        elif self.window.current is not None:
            self.window._focus_first(self.window.current)
        self.arm()
        win = self.window
        if win.current is not None:
            win._last_prompt = (
                win.current.spoken_announcement()
            )  # 重听 says the screen again, not the warning
        if win.ctx.profile.speaks:
            win.ctx.speech.say(_("Good, take your time."))

    def expire(self) -> None:
        """Time is up: everything personal is forgotten and the kiosk shows home."""
        self.countdown.stop()
        self.window.warning.hide()
        self.window.end_visit()

    def stop(self) -> None:
        self.timer.stop()
        self.countdown.stop()


class IdleWarning(QWidget):
    """The full-window idle warning with one big 「我还需要时间」 button."""

    def __init__(self, window: KioskWindow) -> None:
        super().__init__(window)
        self.window_ = window
        self.setObjectName("idle_warning")
        self.setProperty("kind", "page")
        from PySide6.QtCore import Qt

        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        box = self.box = QVBoxLayout(self)
        box.addStretch(1)
        self.message = widgets.label("", kind="notice", name="idle_message")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        box.addWidget(self.message)
        self.more = widgets.button(
            _("I need more time"),
            name="idle_more_time",
            kind="primary",
            on_click=lambda: window.idle.more_time(),  # noqa: PLW0108 - idle is made later
        )
        box.addWidget(self.more)
        box.addStretch(1)

    def restyle(self) -> None:
        theme = self.window_.theme
        self.box.setContentsMargins(
            theme.margin_px * 4, theme.margin_px, theme.margin_px * 4, theme.margin_px
        )
        self.box.setSpacing(theme.gap_px * 2)
        self.more.setMinimumHeight(theme.choice_px)

    def text(self) -> str:
        return self.message.text()

    def show_warning(self, seconds: int) -> None:
        text = _(
            "Are you still here? If you need more time, press any key or touch the button below. "
            "Otherwise the kiosk will go back to the start in {seconds} seconds "
            "and clear what you entered."
        ).format(seconds=seconds)
        self.message.setText(text)
        self.message.setAccessibleName(text)
        self.setGeometry(self.window_.rect())
        self.show()
        self.raise_()
        self.more.setFocus()
