"""Checking that speech is Mandarin: espeak-ng's own phoneme output (`espeak-ng -q -x -v VOICE TEXT`).

espeak-ng marks every switch to another language in its phonemes, e.g. `(en)nI55nt'u:55(cmn)` when the `cmn` voice
falls back to English. `mandarin_share` measures, over prompts, the share of their characters whose clause is
rendered without any such switch (the figure `speech_mandarin_pct`). Used by the tests and `bench/`; the kiosk
itself never runs it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

PINYIN_VOICE = "cmn-latn-pinyin"
SWITCH = re.compile(r"\(([a-z]{2,3}(?:-[A-Za-z0-9]+)*)\)")  # (en), (cmn), (zh-yue)…
_CLAUSE = re.compile(r"[^，。！？；：、,.!?;:\n]+[，。！？；：、,.!?;:\n]*")
_SPOKEN_CHAR = re.compile(r"[0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3400-\u4dbf\u4e00-\u9fff]")


def phonemes(text: str, voice: str = PINYIN_VOICE) -> str:
    """espeak-ng's phonemes for `text` (one clause or sentence per line)."""
    done = subprocess.run(
        ["espeak-ng", "-q", "-x", "-v", voice, "--", text],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
        timeout=120,
    )
    return done.stdout


def switches(text: str, voice: str = PINYIN_VOICE) -> list[str]:
    """The language switches espeak-ng makes reading `text` (`["en", "cmn"]` for "ABC" in the pinyin voice)."""
    return SWITCH.findall(phonemes(text, voice))


def spoken_characters(text: str) -> int:
    """How many characters of `text` are said: Chinese characters, letters and digits (not spaces or punctuation)."""
    return len(_SPOKEN_CHAR.findall(text))


def clauses(text: str) -> list[str]:
    """`text` cut after each punctuation mark (the unit a language switch is counted in)."""
    return [c for c in _CLAUSE.findall(text) if c.strip()]


@dataclass(slots=True)
class Share:
    """Characters said in Mandarin over all characters said; `switched` lists the clauses with a switch."""

    mandarin: int = 0
    total: int = 0
    switched: list[tuple[str, str]] = field(default_factory=list)  # (original clause, engine text)

    @property
    def pct(self) -> float:
        return 100.0 * self.mandarin / self.total if self.total else 100.0


def _bad(texts: Sequence[str], voice: str) -> list[int]:
    """Indexes of `texts` whose phonemes hold a language switch; one espeak-ng run per group, halved on a switch."""
    if not texts:
        return []
    if not SWITCH.search(phonemes("\n".join(t.replace("\n", " ") for t in texts), voice)):
        return []
    if len(texts) == 1:
        return [0]
    half = len(texts) // 2
    return _bad(texts[:half], voice) + [half + i for i in _bad(texts[half:], voice)]


def mandarin_share(prompts: Sequence[str], convert: Callable[[str], str], voice: str = PINYIN_VOICE) -> Share:
    """Over `prompts` (as written), the characters whose clause, after `convert` (text → what the engine is
    handed), espeak-ng renders in `voice` without switching language."""
    units: list[tuple[str, str]] = []
    for prompt in prompts:
        for clause in clauses(prompt):
            spoken = convert(clause).strip()
            if spoken_characters(clause):
                units.append((clause, spoken))
    share = Share()
    bad = set(_bad([spoken or "," for _, spoken in units], voice))
    for i, (clause, spoken) in enumerate(units):
        n = spoken_characters(clause)
        share.total += n
        if i in bad:
            share.switched.append((clause, spoken))
        else:
            share.mandarin += n
    return share
