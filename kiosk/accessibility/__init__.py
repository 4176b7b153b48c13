"""Accessibility: profiles (modes), speech out, voice in, spoken numbers, announcements. Never imports kiosk.ui.

The UI uses only the protocols in `kiosk.accessibility.api` and these factories. Before creating the QApplication it
calls `kiosk.accessibility.screen_reader.enable_screen_reader_support()` (Orca/AT-SPI on Linux).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiosk.accessibility.api import CaptionOnlySpeech, NoVoice, SpeechOut, VoiceIn

if TYPE_CHECKING:
    from kiosk.settings import Settings

__all__ = ["CaptionOnlySpeech", "NoVoice", "SpeechOut", "VoiceIn", "make_speech", "make_voice"]


def make_speech(*, enabled: bool = True, settings: Settings | None = None) -> SpeechOut:
    """The kiosk's speech out: pyttsx3 + espeak-ng/SAPI5 (`speech.Speaker`).

    Falls back to captions only (`CaptionOnlySpeech`) when nothing can play audio (no player, no
    CUNZHAN_AUDIO_SINK) or the engine has no voice for the kiosk's language; `python -m kiosk doctor` says why.
    """
    from kiosk.accessibility.speech import make_speaker

    speaker = make_speaker(settings=settings, enabled=enabled)
    if speaker is None:
        return CaptionOnlySpeech()
    return speaker


def make_voice(*, settings: Settings | None = None) -> VoiceIn:
    """The kiosk's voice in: Vosk, grammar-restricted (`voice.VoiceCommands`), or `NoVoice` with the reason
    (in the UI language) that the voice control shows on screen."""
    from kiosk.accessibility.voice import make_voice_commands

    return make_voice_commands(settings=settings)
