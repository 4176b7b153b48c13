"""Every prompt the kiosk can say is spoken in Mandarin: real espeak-ng renders it without switching language.

The prompts are every screen of the journey in every profile (their whole announcements, everything said on the way,
private details in both forms) and every message of the kiosk's catalogs (errors included); each goes through the
kiosk's speech pipeline (`spoken_text`, then `engine_text` for espeak-ng's pinyin voice, what the renderer does).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.accessibility.mandarin import engine_text, spoken_text
from kiosk.accessibility.phonemes import PINYIN_VOICE, mandarin_share
from kiosk.i18n import use_locale
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
