"""Booking codes: digits only (easy to say and to type on a 12-key keypad), unique per township without a network.

A code is the kiosk's number in its township (2 digits, given at enrolment), a per-kiosk sequence (at least 4 digits)
and a Damm check digit that catches any single wrong digit and any swap of two neighbours. Shown and spoken in
groups: `07-0042-3`.
"""

from __future__ import annotations

import re

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm_digit(digits: str) -> str:
    interim = 0
    for d in digits:
        interim = _DAMM[interim][int(d)]
    return str(interim)


def make_code(kiosk_number: int, sequence: int) -> str:
    """The booking code for the `sequence`-th booking made at kiosk `kiosk_number` (both ≥ 0)."""
    if not 0 <= kiosk_number <= 99:
        raise ValueError("kiosk number must be 0..99")
    if sequence < 0:
        raise ValueError("sequence must be ≥ 0")
    body = f"{kiosk_number:02d}{sequence:04d}"
    return body + damm_digit(body)


def normalise_code(raw: str) -> str:
    """Digits only: residents may type or say the groups with spaces or dashes."""
    return re.sub(r"\D", "", raw)


def is_valid_code(raw: str) -> bool:
    code = normalise_code(raw)
    return len(code) >= 7 and damm_digit(code) == "0"


def format_code(code: str) -> str:
    """`0700423` → `07-0042-3` (kiosk, sequence, check)."""
    return f"{code[:2]}-{code[2:-1]}-{code[-1]}"
