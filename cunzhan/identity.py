"""Identity checks: the 18-character resident ID number (GB 11643-1999) and mainland mobile numbers.

Each check returns a specific, translatable reason so the resident is told exactly what is wrong.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from cunzhan.i18n import N_

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# First two digits of the administrative division code (GB/T 2260): provinces, municipalities, regions, SARs.
PROVINCE_CODES = frozenset(
    {
        11,
        12,
        13,
        14,
        15,
        21,
        22,
        23,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
        83,
        91,
    }
)
_FULLWIDTH = re.compile("[\uff10-\uff19\uff38\uff58]")


class IdProblem(StrEnum):
    """Why an ID number was refused."""

    EMPTY = "empty"
    FULLWIDTH = "fullwidth"
    BAD_CHARACTERS = "bad_characters"
    WRONG_LENGTH = "wrong_length"
    BAD_REGION = "bad_region"
    BAD_DATE = "bad_date"
    FUTURE_DATE = "future_date"
    BAD_CHECK = "bad_check"


ID_MESSAGES: dict[IdProblem, str] = {
    IdProblem.EMPTY: N_("Please enter the ID card number."),
    IdProblem.FULLWIDTH: N_(
        "The ID number contains full-width characters. Please type it again with the keypad."
    ),
    IdProblem.BAD_CHARACTERS: N_("An ID number has only digits and, at the end, the letter X."),
    IdProblem.WRONG_LENGTH: N_("An ID number has 18 characters. You entered {count}."),
    IdProblem.BAD_REGION: N_("The first digits of this ID number are not a region code. Please check them."),
    IdProblem.BAD_DATE: N_(
        "The birth date in this ID number is not a real date. Please check digits 7 to 14."
    ),
    IdProblem.FUTURE_DATE: N_(
        "The birth date in this ID number is in the future. Please check digits 7 to 14."
    ),
    IdProblem.BAD_CHECK: N_(
        "The last character does not match the others. Please check the number on your card."
    ),
}


@dataclass(frozen=True, slots=True)
class IdCheck:
    """The result of checking an ID number: the normalised number, or a problem."""

    number: str | None
    problem: IdProblem | None = None
    count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem is None

    def message(self) -> str:
        """The problem in the current UI language."""
        from cunzhan.i18n import gettext

        if self.problem is None:
            return ""
        return gettext(ID_MESSAGES[self.problem]).format(count=self.count)


def id_check_character(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def check_id_number(raw: str, *, today: dt.date | None = None) -> IdCheck:
    """Check an 18-character resident ID number; accepts a lower-case x and surrounding spaces."""
    text = raw.strip().replace(" ", "")
    if not text:
        return IdCheck(None, IdProblem.EMPTY)
    if _FULLWIDTH.search(text):
        return IdCheck(None, IdProblem.FULLWIDTH)
    text = text.upper()
    if not re.fullmatch(r"[0-9]*X?", text):
        return IdCheck(None, IdProblem.BAD_CHARACTERS)
    if len(text) != 18:
        return IdCheck(None, IdProblem.WRONG_LENGTH, count=len(text))
    if not text[:17].isdigit():
        return IdCheck(None, IdProblem.BAD_CHARACTERS)
    if int(text[:2]) not in PROVINCE_CODES:
        return IdCheck(None, IdProblem.BAD_REGION)
    try:
        born = dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return IdCheck(None, IdProblem.BAD_DATE)
    if born.year < 1890:
        return IdCheck(None, IdProblem.BAD_DATE)
    if born > (today or dt.date.today()):
        return IdCheck(None, IdProblem.FUTURE_DATE)
    if id_check_character(text[:17]) != text[17]:
        return IdCheck(None, IdProblem.BAD_CHECK)
    return IdCheck(text)


def mask_id(id_number: str) -> str:
    """`3301**********123X`: region prefix and last four only."""
    if len(id_number) < 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


class PhoneProblem(StrEnum):
    """Why a phone number was refused."""

    EMPTY = "empty"
    FULLWIDTH = "fullwidth"
    BAD_CHARACTERS = "bad_characters"
    WRONG_LENGTH = "wrong_length"
    NOT_MOBILE = "not_mobile"


PHONE_MESSAGES: dict[PhoneProblem, str] = {
    PhoneProblem.EMPTY: N_("Please enter a mobile number."),
    PhoneProblem.FULLWIDTH: N_(
        "The number contains full-width digits. Please type it again with the keypad."
    ),
    PhoneProblem.BAD_CHARACTERS: N_("A mobile number has only digits."),
    PhoneProblem.WRONG_LENGTH: N_("A mobile number has 11 digits. You entered {count}."),
    PhoneProblem.NOT_MOBILE: N_("This is not a mainland mobile number. It should start with 13 to 19."),
}


@dataclass(frozen=True, slots=True)
class PhoneCheck:
    """The result of checking a phone number."""

    number: str | None
    problem: PhoneProblem | None = None
    count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem is None

    def message(self) -> str:
        """The problem in the current UI language."""
        from cunzhan.i18n import gettext

        if self.problem is None:
            return ""
        return gettext(PHONE_MESSAGES[self.problem]).format(count=self.count)


def check_phone(raw: str) -> PhoneCheck:
    """Check a mainland mobile number; accepts +86 / 0086 prefixes, spaces and dashes."""
    text = re.sub(r"[\s\-]", "", raw)
    if not text:
        return PhoneCheck(None, PhoneProblem.EMPTY)
    if re.search("[\uff10-\uff19]", text):
        return PhoneCheck(None, PhoneProblem.FULLWIDTH)
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    if not text.isascii() or not text.isdigit():
        return PhoneCheck(None, PhoneProblem.BAD_CHARACTERS)
    if len(text) != 11:
        return PhoneCheck(None, PhoneProblem.WRONG_LENGTH, count=len(text))
    if not re.fullmatch(r"1[3-9]\d{9}", text):
        return PhoneCheck(None, PhoneProblem.NOT_MOBILE)
    return PhoneCheck(text)


def mask_phone(phone: str) -> str:
    """`138****5678`."""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
