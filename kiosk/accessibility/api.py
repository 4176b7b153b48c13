"""The interfaces the UI uses for speech out and voice in. `kiosk.accessibility.make_speech` / `make_voice` return
the real implementations (pyttsx3 + espeak-ng, Vosk); the UI depends only on these protocols.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from cunzhan.i18n import sentences


class SpeechOut(Protocol):
    """Speech out. Every method returns at once; synthesis and playback run elsewhere."""

    on_caption: (
        Callable[[str], None] | None
    )  # called with every prompt's text (captions in the hearing profile)

    def say(self, text: str) -> None:
        """Speak `text` (replacing whatever is being spoken) and remember it for `repeat()`."""

    def say_private(self, clear: str, masked: str, *, then: str = "") -> None:
        """Speak `clear` only through private audio (headphones); otherwise speak `masked`. `then` (the next
        screen's announcement, say) follows in the same breath, read as ordinary text, not as a detail."""

    def stop(self) -> None:
        """Stop speaking within 100 ms (any touch or key calls this)."""

    def repeat(self) -> None:
        """Say the last prompt again (重听)."""

    def configure(self, *, rate_multiplier: float, volume: float | None = None, enabled: bool = True) -> None:
        """Set this resident session's rate (a multiple of the kiosk's rate), volume, and whether to speak."""

    def reset(self) -> None:
        """End of a resident session: volume and rate back to the kiosk defaults, nothing queued."""


class VoiceIn(Protocol):
    """Grammar-restricted voice commands."""

    available: bool
    problem: str  # why voice is unavailable, in the UI language ("" when available)
    dictation: (
        bool  # whether free speech can be recognised (`dictate`): the model has a language model of its own
    )
    on_command: (
        Callable[[str], None] | None
    )  # called on the Qt main thread with the phrase (or digits) recognised

    def set_grammar(self, phrases: Sequence[str]) -> None:
        """The current screen's choices; global commands and digits are always added."""

    def start(self) -> None:
        """Start listening (push-to-talk pressed, or between prompts in blind mode)."""

    def stop(self) -> None:
        """Stop listening."""

    def dictate(self, on_text: Callable[[str], None]) -> None:
        """Listen for one utterance of free speech; `on_text` gets the recognised text ("" for nothing) once, on the
        Qt main thread. Personal: never kept for diagnostics or logged."""


class CaptionOnlySpeech:
    """Speech that only produces captions: used when speech is off (hearing profile) or no voice exists."""

    def __init__(self) -> None:
        self.on_caption: Callable[[str], None] | None = None
        self.last_text = ""
        self.spoken: list[str] = []

    def say(self, text: str) -> None:
        self.last_text = text
        if self.on_caption:
            self.on_caption(text)

    def say_private(self, clear: str, masked: str, *, then: str = "") -> None:
        self.say(sentences(masked, then))

    def stop(self) -> None:
        return None

    def repeat(self) -> None:
        if self.last_text:
            self.say(self.last_text)

    def configure(self, *, rate_multiplier: float, volume: float | None = None, enabled: bool = True) -> None:
        return None

    def reset(self) -> None:
        self.last_text = ""


class NoVoice:
    """Voice input that is not available, with the reason shown on screen."""

    available = False
    dictation = False

    def __init__(self, problem: str) -> None:
        self.problem = problem
        self.on_command: Callable[[str], None] | None = None

    def set_grammar(self, phrases: Sequence[str]) -> None:
        return None

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def dictate(self, on_text: Callable[[str], None]) -> None:
        return None
