"""Spoken numbers: digits read back one by one in groups, and recognised Chinese digits turned back into digits.

Read-back groups (ACCESSIBILITY.md): ID number 6-8-4, phone number 3-4-4, booking code 2-4-1 (kiosk, sequence,
check digit; a longer sequence makes the middle group longer). Other lengths are read in groups of four.

Mandarin: digit strings are read one digit at a time with 1 as 幺 (yāo), the way numbers are read aloud in China on
the phone and at counters — 一 (yī) and 七 (qī) are easily confused, 幺 is not. The ID check letter X is read 叉.
The parser accepts what people actually say: 零 or 〇 for 0, 一 or 幺 for 1, 二 or 两 for 2, X/x/叉 for the check
letter, spaces and commas anywhere; anything else gives None (never a guess).
"""

from __future__ import annotations

import re

from cunzhan.i18n import N_, current_locale
from cunzhan.i18n import gettext as _

ZH_DIGITS = {
    "0": "零",
    "1": "幺",
    "2": "二",
    "3": "三",
    "4": "四",
    "5": "五",
    "6": "六",
    "7": "七",
    "8": "八",
    "9": "九",
    "X": "叉",
}
EN_DIGITS = {
    "0": "zero",
    "1": "one",
    "2": "two",
    "3": "three",
    "4": "four",
    "5": "five",
    "6": "six",
    "7": "seven",
    "8": "eight",
    "9": "nine",
    "X": "X",
}

# Every way a recognised Chinese digit may be written (Vosk returns characters; people say 两 and 幺).
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
# The words a voice grammar needs for digits (Vosk vocabulary words).
DIGIT_WORDS: tuple[str, ...] = ("零", "一", "幺", "二", "两", "三", "四", "五", "六", "七", "八", "九", "叉")
_SEPARATORS = re.compile(r"[\s,，、.。\-]+")

GROUPS: dict[str, tuple[int, ...]] = {"id": (6, 8, 4), "phone": (3, 4, 4), "booking": (2, 4, 1)}


def group_digits(kind: str, digits: str) -> list[str]:
    """Split `digits` into the read-back groups for `kind` ("id", "phone", "booking", anything else: fours)."""
    sizes = GROUPS.get(kind)
    if kind == "booking" and len(digits) >= 4:
        sizes = (2, len(digits) - 3, 1)
    if sizes is None or sum(sizes) != len(digits):
        return [digits[i : i + 4] for i in range(0, len(digits), 4)] or [""]
    groups, start = [], 0
    for size in sizes:
        groups.append(digits[start : start + size])
        start += size
    return groups


def digit_words(digits: str, locale: str | None = None) -> list[str]:
    """One word per digit (幺 for 1 in Mandarin)."""
    table = EN_DIGITS if (locale or current_locale()).startswith("en") else ZH_DIGITS
    return [table[d] for d in digits.upper() if d in table]


def spoken_digits(digits: str, kind: str = "", locale: str | None = None) -> str:
    """`13800138000`, phone → "幺三八，零零幺三，八零零零" (en: "one three eight, zero zero one three, …")."""
    locale = locale or current_locale()
    clean = "".join(d for d in digits.upper() if d in ZH_DIGITS)
    groups = group_digits(kind, clean)
    if locale.startswith("en"):
        return ", ".join(" ".join(digit_words(g, locale)) for g in groups)
    return "，".join("".join(digit_words(g, locale)) for g in groups)


def parse_spoken_digits(text: str) -> str | None:
    """Recognised Chinese digits → "0-9/X" digits; None unless every character is a digit word or a separator."""
    compact = _SEPARATORS.sub("", text)
    if not compact:
        return None
    out = []
    for ch in compact:
        digit = SPOKEN_DIGITS.get(ch)
        if digit is None:
            return None
        out.append(digit)
    return "".join(out)


def speak_masked(text: str, locale: str | None = None) -> str:
    """A masked detail made speakable: its visible digits read one by one, hidden runs (`****`) as a pause.

    `138****5678` → "幺三八，五六七八". Text without digits is returned unchanged.
    """
    locale = locale or current_locale()
    pause = ", " if locale.startswith("en") else "，"
    joiner = " " if locale.startswith("en") else ""

    def one(match: re.Match[str]) -> str:
        parts = [p for p in re.split(r"\*+", match.group(0)) if p]
        return pause.join(joiner.join(digit_words(p, locale)) for p in parts)

    return re.sub(r"[0-9Xx*]*[0-9][0-9Xx*]*", one, text)


def confirm_digits_prompt(kind: str, digits: str) -> str:
    """The read-back question for recognised digits: "您说的是 幺三八，…，对吗？请说 是 或 否。"

    ID and phone numbers are private: speak this with `SpeechOut.say_private(confirm_digits_prompt(…),
    masked_confirm_prompt())`, so the loudspeaker only ever says the masked question.
    """
    return _(N_("You said {digits}. Is that right? Please say yes or no.")).format(
        digits=spoken_digits(digits, kind)
    )


def masked_confirm_prompt() -> str:
    """The read-back question without the number (for kiosks without private audio)."""
    return _(N_("The number you said is shown on the screen. Is it right? Please say yes or no."))


_KIND_BY_LENGTH = {18: "id", 11: "phone"}
_DIGIT_RUN = re.compile(r"(?<![0-9])(?:[0-9]{2}-[0-9]{4,}-[0-9]|[0-9]{5,}[Xx]?)(?![0-9])")


def speakable(text: str, locale: str | None = None) -> str:
    """Text with long digit strings (ID, phone, booking codes `07-0042-3`) turned into digits read in groups.

    A synthesiser reads "13800138000" as a quantity (一百三十八亿…); a resident needs to hear 幺三八，零零幺三，八零零零.
    Shorter numbers (dates, times, counts) are left to the synthesiser.
    """
    locale = locale or current_locale()

    def one(match: re.Match[str]) -> str:
        raw = match.group(0)
        if "-" in raw:
            return spoken_digits(raw.replace("-", ""), "booking", locale)
        return spoken_digits(raw, _KIND_BY_LENGTH.get(len(raw), ""), locale)

    return _DIGIT_RUN.sub(one, text)
