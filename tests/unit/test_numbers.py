"""Spoken numbers: read-back groups, Mandarin and English digit words, and the Chinese digit parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cunzhan.i18n import use_locale
from kiosk.accessibility.numbers import (
    confirm_digits_prompt,
    digit_words,
    group_digits,
    masked_confirm_prompt,
    parse_spoken_digits,
    speak_masked,
    speakable,
    spoken_digits,
)

digit_strings = st.text(alphabet="0123456789", min_size=1, max_size=24)
id_numbers = st.text(alphabet="0123456789", min_size=17, max_size=17).flatmap(
    lambda body: st.sampled_from([body + d for d in "0123456789X"])
)


def test_groups() -> None:
    assert group_digits("id", "33010219800101123X") == ["330102", "19800101", "123X"]
    assert group_digits("phone", "13800138000") == ["138", "0013", "8000"]
    assert group_digits("booking", "0700423") == ["07", "0042", "3"]
    assert group_digits("booking", "07123453") == ["07", "12345", "3"]
    assert group_digits("phone", "12345") == ["1234", "5"]  # not a phone number's length: fours


def test_mandarin_read_back_uses_yao_and_pauses_between_groups() -> None:
    assert spoken_digits("13800138000", "phone", "zh_CN") == "幺三八，零零幺三，八零零零"
    assert spoken_digits("33010219800101123X", "id", "zh_CN") == "三三零幺零二，幺九八零零幺零幺，幺二三叉"
    assert spoken_digits("0700423", "booking", "zh_CN") == "零七，零零四二，三"


def test_english_read_back() -> None:
    assert (
        spoken_digits("13800138000", "phone", "en")
        == "one three eight, zero zero one three, eight zero zero zero"
    )
    assert digit_words("12X", "en") == ["one", "two", "X"]


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("幺三八", "138"),
        ("一 三 八", "138"),
        ("零〇", "00"),
        ("两两", "22"),
        ("  九 八  七 ", "987"),
        ("幺二三叉", "123X"),
        ("幺二三x", "123X"),
        ("三三零幺零二，幺九八零", "3301021980"),
    ],
)
def test_parser_reads_what_people_say(text: str, digits: str) -> None:
    assert parse_spoken_digits(text) == digits


@pytest.mark.parametrize(
    "text", ["", "   ", "十", "一百", "幺三八好", "是", "3 8", "返回", "[unk]", "一千零一"]
)
def test_parser_refuses_anything_else(text: str) -> None:
    assert parse_spoken_digits(text) is None


@given(digit_strings, st.sampled_from(["id", "phone", "booking", ""]))
def test_round_trip_digits_spoken_parsed(digits: str, kind: str) -> None:
    assert parse_spoken_digits(spoken_digits(digits, kind, "zh_CN")) == digits
    assert parse_spoken_digits(" ".join(digit_words(digits, "zh_CN"))) == digits


@given(id_numbers)
def test_round_trip_id_numbers(number: str) -> None:
    spoken = spoken_digits(number, "id", "zh_CN")
    assert spoken.count("，") == 2
    assert parse_spoken_digits(spoken) == number


def test_masked_details_are_spoken_without_the_hidden_digits() -> None:
    assert speak_masked("138****5678", "zh_CN") == "幺三八，五六七八"
    assert speak_masked("3301**********123X", "zh_CN") == "三三零幺，幺二三叉"
    assert speak_masked("手机 138****5678", "zh_CN") == "手机 幺三八，五六七八"
    assert speak_masked("没有数字", "zh_CN") == "没有数字"


def test_confirm_prompts() -> None:
    with use_locale("zh_CN"):
        prompt = confirm_digits_prompt("phone", "13800138000")
        assert prompt == "您说的是 幺三八，零零幺三，八零零零，对吗？请说 是 或 否。"
        assert "对吗" in masked_confirm_prompt() and "幺" not in masked_confirm_prompt()
    with use_locale("en"):
        assert confirm_digits_prompt("phone", "13800138000").startswith("You said one three eight, ")


def test_long_digit_strings_in_prompts_become_spoken_digits() -> None:
    assert speakable("您的手机号是 13800138000。", "zh_CN") == "您的手机号是 幺三八，零零幺三，八零零零。"
    assert speakable("预约号 07-0042-3", "zh_CN") == "预约号 零七，零零四二，三"
    assert (
        speakable("号码 33010219800101123X 对吗", "zh_CN")
        == "号码 三三零幺零二，幺九八零零幺零幺，幺二三叉 对吗"
    )
    assert speakable("2024年5月3日 上午9:30，还有12个号", "zh_CN") == "2024年5月3日 上午9:30，还有12个号"
    assert speakable("Code 07-0042-3", "en") == "Code zero seven, zero zero four two, three"
