"""Every prompt the kiosk can say is spoken in Mandarin: real espeak-ng renders it without switching language.

The prompts are every screen of the journey in every profile (their whole announcements, everything said on the way,
private details in both forms) and every message of the kiosk's catalogs (errors included); each goes through the
kiosk's speech pipeline (`spoken_text`, then `engine_text` for espeak-ng's pinyin voice, what the renderer does).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cunzhan.i18n import use_locale
from kiosk.accessibility.mandarin import engine_text, spoken_text
from kiosk.accessibility.phonemes import PINYIN_VOICE, mandarin_share, switches
from kiosk.accessibility.speech import LOG_ENV, FileSinkPlayer, Speaker
from kiosk.settings import Settings
from kiosk.ui.prompts import catalog_prompts, kiosk_prompts

VOICE_ID = "sit/cmn-latn-pinyin"


def _convert(clause: str) -> str:
    return engine_text(spoken_text(clause, "zh_CN"), "espeak", VOICE_ID)


@pytest.mark.slow
def test_every_prompt_is_spoken_in_mandarin(qapp: object, data_home: Path) -> None:
    with use_locale("zh_CN"):
        prompts = kiosk_prompts()
    said = " ".join(prompts)
    # The gathering is whole: screens of the tour in the blind profile, their real dates and times, errors.
    assert "按1，" in said and "上午 " in said and "月" in said
    assert "身份证号是 18 位，您输入了  位。" in prompts  # an error message (core), placeholder left out
    assert len(prompts) > 500
    share = mandarin_share(prompts, _convert, PINYIN_VOICE)
    assert share.total > 8000
    assert share.switched == [], share.switched[:20]
    assert share.pct == 100.0


def test_the_check_sees_a_prompt_that_switches_language() -> None:
    """Without the pipeline (characters straight to espeak-ng's `cmn` voice, as before) the same check fails."""
    prompts = [p for p in catalog_prompts() if "预约" in p][:20]
    before = mandarin_share(prompts, lambda clause: clause, "cmn")
    assert before.switched and before.pct < 50
    after = mandarin_share(prompts, _convert, PINYIN_VOICE)
    assert after.switched == [] and after.pct == 100.0


def test_the_running_kiosk_speaks_its_screens_in_pinyin(
    make_kiosk: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kiosk window in the blind profile with the real speech (pyttsx3 + espeak-ng, file sink): what the log says
    the engine was handed is the pipeline's pinyin of the screen's announcement, and it is Mandarin throughout."""
    log = tmp_path / "speech.jsonl"
    monkeypatch.setenv(LOG_ENV, str(log))
    kiosk = make_kiosk("blind")
    speaker = Speaker(settings=Settings({"private_audio": "false"}), player=FileSinkPlayer(tmp_path / "sink"))
    try:
        kiosk.set_speech(speaker)  # says the home screen again, now with a voice
        assert speaker.wait_idle(30) and speaker.last_error == "", speaker.last_error
        announcement = kiosk.current.spoken_announcement()
        assert "按1" in announcement
        entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
        assert entries == [{"voice": VOICE_ID, "text": _convert(announcement)}]
        text = str(entries[0]["text"])
        assert "an4 yi1" in text and not any("\u4e00" <= ch <= "\u9fff" for ch in text)
        assert switches(text) == []
    finally:
        speaker.close()
