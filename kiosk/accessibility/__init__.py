"""Accessibility: profiles (modes), speech out, voice in, spoken numbers, announcements. Never imports kiosk.ui."""

from kiosk.accessibility.api import CaptionOnlySpeech, NoVoice, SpeechOut, VoiceIn

__all__ = ["CaptionOnlySpeech", "NoVoice", "SpeechOut", "VoiceIn", "make_speech", "make_voice"]


def make_speech(*, enabled: bool = True) -> SpeechOut:
    """The kiosk's speech out. (Replaced by the pyttsx3 implementation in kiosk.accessibility.speech.)"""
    return CaptionOnlySpeech()


def make_voice() -> VoiceIn:
    """The kiosk's voice in. (Replaced by the Vosk implementation in kiosk.accessibility.voice.)"""
    from kiosk.i18n import N_, gettext

    return NoVoice(gettext(N_("Voice commands are not installed on this kiosk.")))
