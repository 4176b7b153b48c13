"""The accessibility profiles and their numbers (ACCESSIBILITY.md), combinable.

Sizes are millimetres on the glass; `px()` turns them into pixels from the screen's physical DPI. Combining profiles
takes the stricter value of each row (larger text and targets, higher contrast, longer idle time, fewer choices),
and speech is on if any profile wants it — except that the hearing profile adds captions and never relies on audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cunzhan.i18n import N_, gettext


class Speech(StrEnum):
    ON_REQUEST = "on_request"
    EVERY_SCREEN = "every_screen"
    SCREEN_AND_FOCUS = "screen_and_focus"
    EVERYTHING = "everything"
    OFF = "off"


_SPEECH_ORDER = (
    Speech.OFF,
    Speech.ON_REQUEST,
    Speech.EVERY_SCREEN,
    Speech.SCREEN_AND_FOCUS,
    Speech.EVERYTHING,
)


@dataclass(frozen=True, slots=True)
class Profile:
    """One accessibility profile, or a combination of several."""

    name: str
    title: str  # untranslated message id
    text_mm: float
    target_mm: float
    target_gap_mm: float
    contrast: float
    speech: Speech
    speech_rate: float  # multiplier of the kiosk's speech rate
    idle_s: int
    max_choices: int
    numbered_choices: bool = False
    captions: bool = False
    keypad_driven: bool = False
    listen_between_prompts: bool = False
    high_contrast: bool = False

    @property
    def speaks(self) -> bool:
        return self.speech in {Speech.EVERY_SCREEN, Speech.SCREEN_AND_FOCUS, Speech.EVERYTHING}

    def label(self) -> str:
        return gettext(self.title)

    def combine(self, other: Profile) -> Profile:
        """The stricter of each row."""
        names = sorted(set(self.name.split("+")) | set(other.name.split("+")), key=ORDER.index)
        speech = max(self.speech, other.speech, key=_SPEECH_ORDER.index)
        if Speech.OFF in (self.speech, other.speech) and speech is not Speech.OFF:
            pass  # hearing + a speech profile: speech stays on for the other need, captions show every prompt
        return Profile(
            name="+".join(names),
            title=self.title if len(names) == 1 else N_("Combined profile"),
            text_mm=max(self.text_mm, other.text_mm),
            target_mm=max(self.target_mm, other.target_mm),
            target_gap_mm=max(self.target_gap_mm, other.target_gap_mm),
            contrast=max(self.contrast, other.contrast),
            speech=speech,
            speech_rate=min(self.speech_rate, other.speech_rate),
            idle_s=max(self.idle_s, other.idle_s),
            max_choices=min(self.max_choices, other.max_choices),
            numbered_choices=self.numbered_choices or other.numbered_choices,
            captions=self.captions or other.captions,
            keypad_driven=self.keypad_driven or other.keypad_driven,
            listen_between_prompts=self.listen_between_prompts or other.listen_between_prompts,
            high_contrast=self.high_contrast or other.high_contrast,
        )


STANDARD = Profile("standard", N_("Standard"), 6, 12, 2, 4.5, Speech.ON_REQUEST, 1.0, 60, 6)
ELDER = Profile(
    "elder", N_("Elder mode"), 9, 16, 3, 7.0, Speech.EVERY_SCREEN, 0.8, 180, 4, high_contrast=True
)
LOW_VISION = Profile(
    "low_vision", N_("Low vision"), 12, 16, 3, 7.0, Speech.SCREEN_AND_FOCUS, 0.9, 180, 4, high_contrast=True
)
BLIND = Profile(
    "blind",
    N_("Blind: speech and keypad"),
    12,
    16,
    3,
    7.0,
    Speech.EVERYTHING,
    0.9,
    300,
    4,
    numbered_choices=True,
    keypad_driven=True,
    listen_between_prompts=True,
    high_contrast=True,
)
HEARING = Profile("hearing", N_("Hearing impaired"), 6, 12, 2, 4.5, Speech.OFF, 1.0, 90, 6, captions=True)
MOTOR = Profile(
    "motor", N_("Motor impaired"), 9, 20, 4, 7.0, Speech.EVERY_SCREEN, 0.9, 300, 4, high_contrast=True
)

PROFILES: dict[str, Profile] = {p.name: p for p in (STANDARD, ELDER, LOW_VISION, BLIND, HEARING, MOTOR)}
ORDER = list(PROFILES)

# Reference panel: 21.5" 1920×1080, 0.248 mm per pixel.
REFERENCE_DPI = 25.4 / 0.248


def profile(spec: str) -> Profile:
    """A profile by name, or a combination written `elder+hearing`."""
    parts = [p.strip() for p in spec.split("+") if p.strip()]
    if not parts:
        return STANDARD
    unknown = [p for p in parts if p not in PROFILES]
    if unknown:
        raise KeyError(", ".join(unknown))
    result = PROFILES[parts[0]]
    for part in parts[1:]:
        result = result.combine(PROFILES[part])
    return result


def px(mm: float, dpi: float) -> int:
    """Millimetres on the glass to whole pixels (rounded up, so a minimum is never missed)."""
    import math

    return math.ceil(mm * dpi / 25.4)


def mm(pixels: float, dpi: float) -> float:
    return pixels * 25.4 / dpi
