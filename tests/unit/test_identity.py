from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from cunzhan.identity import (
    PROVINCE_CODES,
    IdProblem,
    PhoneProblem,
    check_id_number,
    check_phone,
    id_check_character,
    mask_id,
    mask_phone,
)

TODAY = dt.date(2026, 11, 28)


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(sorted(PROVINCE_CODES)))
    rest = draw(st.integers(0, 9999))
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY))
    seq = draw(st.integers(0, 999))
    first17 = f"{province:02d}{rest:04d}{born:%Y%m%d}{seq:03d}"
    return first17 + id_check_character(first17)


def test_known_valid_number_and_lowercase_x() -> None:
    # 11010519491231002X is the standard worked example of GB 11643.
    assert check_id_number("11010519491231002X", today=TODAY).number == "11010519491231002X"
    assert check_id_number("11010519491231002x", today=TODAY).number == "11010519491231002X"
    assert check_id_number(" 110105 19491231 002X ", today=TODAY).ok


@given(valid_ids())
def test_every_well_formed_number_is_accepted(number: str) -> None:
    assert check_id_number(number, today=TODAY).number == number


@given(valid_ids(), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_is_caught(number: str, position: int, delta: int) -> None:
    digit = (int(number[position]) + delta) % 10
    changed = number[:position] + str(digit) + number[position + 1 :]
    result = check_id_number(changed, today=TODAY)
    assert not result.ok


def test_specific_problems_have_specific_messages() -> None:
    cases = {
        "": IdProblem.EMPTY,
        "１１０１０５１９４９１２３１００２Ｘ": IdProblem.FULLWIDTH,
        "11010519491231002A": IdProblem.BAD_CHARACTERS,
        "1101051949123100": IdProblem.WRONG_LENGTH,
        "00010519491231002X": IdProblem.BAD_REGION,
        "110105194902300026": IdProblem.BAD_DATE,  # 30 February
        "110105203001010020": IdProblem.FUTURE_DATE,
        "110105194912310021": IdProblem.BAD_CHECK,
    }
    messages = set()
    for raw, problem in cases.items():
        result = check_id_number(raw, today=TODAY)
        assert result.problem is problem, raw
        messages.add(result.message())
    assert len(messages) == len(cases)
    assert "18" in check_id_number("1101051949", today=TODAY).message()
    assert "10" in check_id_number("1101051949", today=TODAY).message()
    assert "身份证" in check_id_number("", today=TODAY).message()


def test_masking() -> None:
    assert mask_id("33010219800101123X") == "3301**********123X"
    assert mask_phone("13812345678") == "138****5678"


@given(st.sampled_from("3456789"), st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_mobile_numbers(second: str, rest: str) -> None:
    number = "1" + second + rest
    assert check_phone(number).number == number
    assert check_phone("+86 " + number[:3] + "-" + number[3:]).number == number


def test_phone_problems() -> None:
    assert check_phone("").problem is PhoneProblem.EMPTY
    assert check_phone("１３８１２３４５６７８").problem is PhoneProblem.FULLWIDTH
    assert check_phone("1381234567").problem is PhoneProblem.WRONG_LENGTH
    assert check_phone("12812345678").problem is PhoneProblem.NOT_MOBILE
    assert check_phone("138abc45678").problem is PhoneProblem.BAD_CHARACTERS
    assert "11" in check_phone("1381234567").message()
