"""The kiosk window: the frame (title bar, captions, the screen, the bar of global controls) and the visit.

The window composes small parts, each in its own module, and owns them:

    window.navigation       # kiosk.ui.navigation: screens by name, the way back (返回)
    window.speech_routing   # kiosk.ui.speech_routing: what is said and captioned, 重听
    window.voice_routing    # kiosk.ui.voice_routing: push-to-talk and what a recognised phrase does
    window.restyler         # kiosk.ui.restyle: the look for the visit's profile
    window.input_rules      # kiosk.ui.keys: touches and keys (tremor filter, keypad, focus moves)
    window.idle             # kiosk.ui.idle: the idle warning and the end of an abandoned visit
    window.lockdown         # kiosk.ui.lockdown: closing a locked kiosk only by the staff PIN

Its API (small on purpose; staff screens in `kiosk/ui/staff/` use the same):

    window.register(ScreenClass)     # a `kiosk.ui.screen.Screen` subclass with a unique `name`
    window.register_lazy(name, loader)   # or imported on first show: `loader(name)` returns the class
    window.show_screen(name)         # go forward (the current screen is remembered for 返回)
    window.show_screen(name, remember=False)   # go without a way back (after a booking is written)
    window.back()                    # 返回 / Esc
    window.back_to(name)             # back several screens at once (e.g. to the time list), entries kept
    window.go_home()                 # 首页: with anything personal in the visit, ends it (as end_visit)
    window.continue_visit()          # 「还要办别的事」: home, the identified resident kept for one more errand
    window.end_visit()               # forget everything the resident entered, default profile, home
    window.before_end_visit          # hooks run, in order, when a visit ends (staff mode signs out there)
    window.set_profile(profile)      # 长辈模式 and the other modes: restyles and re-announces
    window.say(text)                 # speak (speaking profiles) and caption (hearing profile)
    window.set_speech(speech)        # speech out and voice commands (the real engines are started after
    window.set_voice(voice)          #   the first screen is shown)
    window.current                   # the Screen on show
    window.request_exit()            # the only way out when locked down: asks for the staff PIN
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QAccessible, QCloseEvent, QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from cunzhan.i18n import gettext as _
from kiosk.accessibility.api import SpeechOut, VoiceIn
from kiosk.accessibility.profiles import ELDER, STANDARD, Profile
from kiosk.ui import widgets
from kiosk.ui.context import KioskContext
from kiosk.ui.idle import IdleGuard
from kiosk.ui.keys import InputRules
from kiosk.ui.lockdown import LockDown
from kiosk.ui.navigation import Navigation
from kiosk.ui.restyle import Restyler
from kiosk.ui.screen import Screen
from kiosk.ui.speech_routing import SpeechRouting
from kiosk.ui.theme import Theme
from kiosk.ui.voice_routing import VoiceRouting


class KioskWindow(QWidget):
    """The one kiosk window."""

    sync_changed = Signal()  # emitted from any thread when the sync engine changes the link state

    def __init__(
        self, ctx: KioskContext, *, locked: bool = False, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.setObjectName("window")
        self.setWindowTitle(_("Village service kiosk"))
        self.setAccessibleName(_("Village service kiosk"))
        self.restyler = Restyler(self)
        # Run, in order, when a visit ends (idle timeout, home, staff leaving), before the resident is forgotten:
        # a hook list, as Anki's gui_hooks, so other parts (staff mode) add to the end of a visit without
        # replacing it.
        self.before_end_visit: list[Callable[[], None]] = []
        self._keep_visit_once = False  # continue_visit: this one arrival home keeps the resident
        self._build_frame()
        self.navigation = Navigation(
            self.stack, build=lambda cls: cls(self), draw=self._draw, arriving_home=self._arrive_home
        )
        self.speech_routing = SpeechRouting(
            ctx, self.caption_label, current=lambda: self.navigation.current, focus=self.focusWidget
        )
        self.voice_routing = VoiceRouting(self)
        self.lockdown = LockDown(self, locked=locked)
        self.input_rules = InputRules(self, clock=clock)
        self.idle = IdleGuard(self)
        # From the sync thread this is queued to the main thread by itself; from the main thread it waits for the
        # event loop too, so a refresh never runs inside whatever emitted it.
        self.sync_changed.connect(self._sync_changed_later)
        self.restyler.apply()

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
        # change of look re-polishes: see Restyler.update_mode_button)
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

    @property
    def theme(self) -> Theme:
        """The sizes and colours of the visit's profile (what screens draw with)."""
        return self.restyler.theme

    @property
    def current(self) -> Screen | None:
        """The screen on show."""
        return self.navigation.current

    # --- screens ----------------------------------------------------------------------------------------------------

    def register(self, screen_class: type[Screen]) -> None:
        """Make a screen reachable by its `name` (built the first time it is shown)."""
        self.navigation.register(screen_class)

    def register_lazy(self, name: str, loader: Callable[[str], type[Screen]]) -> None:
        """Make a screen reachable by `name`; `loader(name)` imports its class the first time it is shown."""
        self.navigation.register_lazy(name, loader)

    def screen_named(self, name: str) -> Screen:
        """The screen object for `name` (built on first use)."""
        return self.navigation.screen_named(name)

    def show_screen(self, name: str, *, remember: bool = True, announce: bool = True) -> Screen:
        """Show the screen `name`; `remember` lets 返回 come back to the current one."""
        return self.navigation.show(name, remember=remember, announce=announce)

    def back(self) -> None:
        """返回: the previous screen, with everything entered still there."""
        self.navigation.back()

    def back_to(self, name: str, *, announce: bool = True) -> Screen:
        """Go back to the earlier screen `name` (dropping the ones after it), everything entered kept."""
        return self.navigation.back_to(name, announce=announce)

    def refresh(self, *, announce: bool = False) -> None:
        """Redraw the current screen (after its data changed)."""
        if self.current is not None:
            self._draw(announce)

    # --- the visit --------------------------------------------------------------------------------------------------

    def go_home(self) -> None:
        """首页. Arriving home with anything personal in the visit (an identified resident, anything typed) ends
        the visit: the next person at the kiosk must not find the last one's bookings, number or name."""
        self.navigation.home()

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
        self.navigation.reset()
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
        self.input_rules.keyboard_used = False
        self.speech_routing.forget()
        self.navigation.clear_history()
        self._forget_screens()
        self.idle.hide_warning()
        self.restyler.apply()

    def _forget_screens(self) -> None:
        """Drop what every built screen drew (numbers, codes, names lingering in hidden widgets); each screen is
        drawn afresh from the (new) visit the next time it is shown."""
        for screen in self.navigation.built_screens():
            screen.forget()
        self.caption_label.clear()

    # --- drawing ----------------------------------------------------------------------------------------------------

    def _draw(self, announce: bool) -> None:
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
        self.restyler.update_mode_button()
        self.ctx.voice.set_grammar(screen.voice_phrases())
        self.focus_first(screen)
        self.idle.arm()
        if announce:
            self.speech_routing.announce()

    def focus_first(self, screen: Screen) -> None:
        """Keyboard, keypad and screen-reader users start on the screen's first control (its safe choice on a
        destructive question); touch users see no highlight (a yellow button nobody chose looks already chosen)."""
        target = None
        if (
            self.input_rules.keyboard_used
            or self.ctx.profile.keypad_driven
            or (screen.name != "home" and QAccessible.isActive())
        ):
            target = screen.focus_target()
        (target or screen).setFocus()  # Qt's default reason, OtherFocusReason

    # --- the global controls ----------------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """Speak a message (errors, confirmations) in the speaking profiles; caption it when captions are on."""
        self.speech_routing.say(text)

    def say_before_next(self, clear: str, masked: str) -> None:
        """A read-back (`clear` through private audio only, else `masked`) said at the start of the next screen's
        announcement instead of being cut off by it."""
        self.speech_routing.say_before_next(clear, masked)

    def repeat(self) -> None:
        """重听: say the screen again (in the standard profile it is said for the first time)."""
        self.speech_routing.repeat()

    def talk(self) -> None:
        """说话: push-to-talk."""
        self.voice_routing.talk()

    def call_staff(self) -> None:
        """呼叫工作人员: record the call (staff mode shows it) and tell the resident someone is coming."""
        screen = self.current
        store = self.ctx.store
        where = screen.name if screen else ""

        def called(_none: None) -> None:
            if screen is not None:
                screen.show_message(_("We have called the staff. Someone will come to help you soon."), "ok")

        self.ctx.ops.write(lambda: store.audit("resident", "staff_called", where), on_done=called)

    def set_speech(self, speech: SpeechOut) -> None:
        """Use `speech` from now on (the real engine is started after the first screen); the screen is said again
        in the speaking profiles, since the first time had no voice yet."""
        self.speech_routing.use(speech)
        self.restyler.apply()
        if self.ctx.profile.speaks and self.current is not None:
            self.speech_routing.announce()

    def set_voice(self, voice: VoiceIn) -> None:
        """Use `voice` for voice commands from now on (it is started after the first screen is shown)."""
        self.voice_routing.use(voice)

    # --- profiles ---------------------------------------------------------------------------------------------------

    def set_profile(self, profile: Profile, *, redraw: bool = True) -> None:
        """Switch this visit to `profile`: new sizes and colours, speech rate, idle time; the screen is re-announced."""
        self.ctx.profile = profile
        self.restyler.apply()
        if redraw:
            self._draw(True)

    def toggle_elder(self) -> None:
        """长辈模式 in one touch (and back to the standard mode from any other mode)."""
        self.set_profile(ELDER if self.ctx.profile.name == "standard" else STANDARD)

    # --- lock-down and the window's life ----------------------------------------------------------------------------

    def request_exit(self) -> None:
        """The only way out of a locked kiosk: the staff PIN screen (closes the window when the PIN is right)."""
        self.lockdown.request_exit()

    def unlock_and_close(self) -> None:
        self.lockdown.unlock_and_close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.lockdown.may_close():
            event.ignore()  # Alt+F4 and the window manager's close do nothing on a locked kiosk
            return
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop timers and the input filter (the window is going away)."""
        self.idle.stop()
        self.input_rules.uninstall()

    def showEvent(self, event: QShowEvent) -> None:
        self.input_rules.install()
        super().showEvent(event)

    def resizeEvent(self, event: object) -> None:
        self.idle.fit()
        super().resizeEvent(event)  # type: ignore[arg-type]

    def _sync_changed_later(self) -> None:
        QTimer.singleShot(0, self._on_sync_changed)

    def _on_sync_changed(self) -> None:
        # A sync may have changed settings the township gives (its time zone): read them again.
        self.ctx.settings.reload(self.ctx.store.stored_settings())
        if self.current is not None and self.current.name == "home":
            self.refresh()
