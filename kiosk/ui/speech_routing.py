"""What the kiosk says and captions: screen announcements, messages, read-backs of private numbers, 重听.

`SpeechRouting` decides, from the visit's profile, whether a text is spoken (`ctx.speech`), captioned (the window's
caption line, hearing profile) or both, and remembers the last prompt for 重听. Private numbers (an ID, a phone) are
spoken in clear only through private audio; the speech object decides how (`SpeechOut.say_private`).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

from cunzhan.i18n import gettext as _
from kiosk import settings as S
from kiosk.accessibility.api import SpeechOut
from kiosk.accessibility.profiles import Speech
from kiosk.ui.context import KioskContext
from kiosk.ui.screen import Screen


class SpeechRouting:
    """Speech out and captions for one window: `current()` is the screen on show, `focus()` the focused control."""

    def __init__(
        self,
        ctx: KioskContext,
        caption_label: QLabel,
        *,
        current: Callable[[], Screen | None],
        focus: Callable[[], QWidget | None],
    ) -> None:
        self.ctx = ctx
        self.caption_label = caption_label
        self._current = current
        self._focus = focus
        self.announced = (
            False  # whether the screen on show was said (speaking profiles), so 重听 says it again
        )
        self.last_prompt = ""  # what 重听 says again: the screen's announcement or the last message
        self._held_private: tuple[str, str] | None = (
            None  # a read-back for the start of the next announcement
        )
        ctx.speech.on_caption = self.caption

    def use(self, speech: SpeechOut) -> None:
        """Speak with `speech` from now on (the old engine is stopped)."""
        self.ctx.speech.stop()
        self.ctx.speech = speech
        speech.on_caption = self.caption

    def forget(self) -> None:
        """The visit is over: no prompt to repeat, no read-back held, no caption left on screen."""
        self.last_prompt = ""
        self._held_private = None
        self.caption_label.clear()
        self.caption_label.setAccessibleName("")

    def announce(self) -> None:
        """Say (in speaking profiles) and caption (hearing profile) the current screen's announcement. A read-back
        held for it (`say_before_next`) is said first, in the same breath, so the new screen never cuts it off."""
        screen = self._current()
        if screen is None:
            return
        text = screen.spoken_announcement()
        self.announced = self.ctx.profile.speaks
        self.last_prompt = text
        held, self._held_private = self._held_private, None
        if self.ctx.profile.speaks:
            if held is not None:
                self.ctx.speech.say_private(held[0], held[1], then=text)
            else:
                self.ctx.speech.say(text)
            if self.ctx.profile.listen_between_prompts:
                self.ctx.voice.start()
        if self.ctx.profile.captions:
            self.caption(text)

    def say(self, text: str) -> None:
        """Speak a message (errors, confirmations) in the speaking profiles; caption it when captions are on."""
        self.last_prompt = text
        held, self._held_private = self._held_private, None
        if self.ctx.profile.speaks and held is not None:
            self.ctx.speech.say_private(held[0], held[1], then=text)
        elif self.ctx.profile.speaks:
            self.ctx.speech.say(text)
        if self.ctx.profile.captions:
            self.caption(text)

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

    def caption(self, text: str) -> None:
        """Show `text` on the caption line (hearing profile only)."""
        if not self.ctx.profile.captions:
            return
        self.caption_label.setText(text)
        self.caption_label.setAccessibleName(text)
        self.caption_label.show()

    def repeat(self) -> None:
        """重听: say the screen again (in the standard profile it is said for the first time)."""
        screen = self._current()
        if self.announced and self.last_prompt:
            self.ctx.speech.say(self.last_prompt)  # the screen or its last message, never a typed digit
        elif screen is not None:
            text = screen.spoken_announcement()
            if self.ctx.profile.speech is not Speech.OFF:
                self.ctx.speech.say(text)
                self.announced = True
            if self.ctx.profile.captions:
                self.caption(text)

    def speak_focus(self) -> None:
        """Moving focus by keys says the focused control (the profiles that speak focus: low vision, blind)."""
        if self.ctx.profile.speech not in (Speech.SCREEN_AND_FOCUS, Speech.EVERYTHING):
            return
        focus = self._focus()
        if focus is None or focus is self._current():
            return
        text = focus.accessibleName() or (focus.text() if isinstance(focus, QAbstractButton) else "")
        if not text.strip():
            return
        if not focus.isEnabled():
            text = _("{name}, not available").format(name=text)
        self.ctx.speech.say(" ".join(text.split()))
