"""Text → spoken Mandarin: numbers as people say them, pinyin with the right readings, checked by real espeak-ng."""

from __future__ import annotations

import pytest

from kiosk.accessibility.mandarin import (
    LETTERS,
    cardinal,
    clock,
    engine_text,
    is_pinyin_voice,
    money,
    say_numbers,
    spoken_text,
    to_pinyin,
)
from kiosk.accessibility.phonemes import Share, mandarin_share, phonemes, switches

HUIHUI = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Speech\Voices\Tokens\TTS_MS_ZH-CN_HUIHUI_11.0"


@pytest.mark.parametrize(
    ("n", "said"),
    [
        (0, "零"),
        (2, "二"),
        (10, "十"),
        (15, "十五"),
        (20, "二十"),
        (101, "一百零一"),
        (110, "一百一十"),
        (1005, "一千零五"),
        (1050, "一千零五十"),
        (2000, "两千"),
        (10010, "一万零一十"),
        (20000, "两万"),
        (123456789, "一亿两千三百四十五万六千七百八十九"),
    ],
)
def test_cardinal_numbers(n: int, said: str) -> None:
    assert cardinal(n) == said


@pytest.mark.parametrize(
    ("text", "said"),
    [
        # times, with the part of the day as people say it
        ("上午 10:30", "上午十点半"),
        ("下午 2:00", "下午两点"),
        ("14:30", "下午两点半"),
        ("10:05", "十点零五分"),
        ("晚上 7:15", "晚上七点十五分"),
        ("10：30", "十点半"),
        # dates
        ("12月3日 星期四", "十二月三日 星期四"),
        ("2026年12月3日", "二零二六年十二月三日"),
        ("2026-12-03", "二零二六年十二月三日"),
        ("1948年出生", "一九四八年出生"),
        ("比如2016，然后", "比如二零一六，然后"),
        ("在1900年到2026年之间", "在一九零零年到二零二六年之间"),
        # money and percentages
        ("12.50元", "十二元五角"),
        ("0.5元", "五角"),
        ("¥3.05", "三元零五分"),
        ("2元", "两元"),
        ("50%", "百分之五十"),
        # 两 before a measure word, 二 elsewhere; ordinals
        ("已输入 2 位，共 18 位", "已输入 两 位，共 十八 位"),
        ("2个人", "两个人"),
        ("第2页，共3页", "第二页，共三页"),
        ("按2，不用了", "按二，不用了"),
        ("按1到5", "按一到五"),
        ("1.5", "一点五"),
        # digit by digit, 1 as 幺: booking codes, ID and phone numbers, rooms, digits typed one by one, masked details
        ("预约号：07-0042-3", "预约号：零七，零零四二，三"),
        ("13800138000", "幺三八，零零幺三，八零零零"),
        ("电话：0571-8888 1234", "电话：零五七幺，八八八八，幺二三四"),
        ("201室", "二零幺室"),
        ("诊室 305", "诊室三零五"),
        ("您输入的是 3 3 0 1 0 2。", "您输入的是 三三零幺零二。"),
        ("0 0、0 0 0 1、1", "零零、零零零幺、幺"),
        ("身份证尾号 123X", "身份证尾号 幺二三叉"),
        (
            "显示号码 10秒后自动隐藏",
            "显示号码 十秒后自动隐藏",
        ),  # a duration after 号码, not the number's digits
        ("3301**********1234", "三三零幺，幺二三四"),
        # full-width digits
        ("３号窗口", "三号窗口"),
    ],
)
def test_numbers_are_said_as_people_say_them(text: str, said: str) -> None:
    assert say_numbers(text) == said


def test_clock_and_money_directly() -> None:
    assert clock(10, 30, "上午") == "上午十点半"
    assert clock(0, 45) == "凌晨零点四十五分"
    assert clock(20, 0) == "晚上八点"
    assert money("3", "") == "三元"
    assert money("12", "05") == "十二元零五分"


def test_english_prompts_keep_their_numbers_but_read_long_digit_strings() -> None:
    assert (
        spoken_text("At 10:30, code 07-0042-3", "en")
        == "At 10:30, code zero seven, zero zero four two, three"
    )
    assert spoken_text("上午 10:30", "zh_CN") == "上午十点半"


@pytest.mark.parametrize(
    ("text", "pinyin"),
    [
        # polyphones, by word (pypinyin's phrases and the kiosk's own)
        ("重听", "chong2 ting1"),
        ("银行", "yin2 hang2"),
        ("长辈模式", "zhang3 bei4 mo2 shi4"),
        ("时间太长", "shi2 jian1 tai4 chang2"),
        ("还有空位", "hai2 you3 kong4 wei4"),
        ("重新输入", "chong2 xin1 shu1 ru4"),
        ("密码已重设", "mi4 ma3 yi3 chong2 she4"),
        ("医生讲得清楚", "yi1 sheng1 jiang3 de5 qing1 chu3"),
        ("行动不便", "xing2 dong4 bu2 bian4"),
        # tone changes of 不 and 一; the number one keeps its first tone
        ("不要", "bu2 yao4"),
        ("不好", "bu4 hao3"),
        ("一个", "yi2 ge4"),
        ("一起", "yi4 qi3"),
        ("看一看", "kan4 yi5 kan4"),
        ("按一到五", "an4 yi1 dao4 wu3"),
        ("按一，是", "an4 yi1, shi4"),
        ("请按一个大按钮", "qing3 an4 yi2 ge4 da4 an4 niu3"),
        ("上一页", "shang4 yi2 ye4"),
        ("下午一点", "xia4 wu3 yi1 dian3"),
        ("第一页", "di4 yi1 ye4"),
        ("十一", "shi2 yi1"),
        ("一九四八", "yi1 jiu3 si4 ba1"),
        # punctuation as pauses, quotes dropped, ü as v
        ("您好！请按“确认”。", "nin2 hao3. qing3 an4 que4 ren4."),
        ("还在吗？", "hai2 zai4 ma5?"),
        ("女儿", "nv3 er2"),
        ("孙子／外孙", "sun1 zi5, wai4 sun1"),
        # Latin letters spelt with their Chinese names, symbols said or dropped
        ("U盘", "you1 pan2"),
        ("最后一位可能是X。", "zui4 hou4 yi2 wei4 ke3 neng2 shi4 ai2 ke4 si5."),
        ("语音＋按键", "yu3 yin1 jia1 an4 jian4"),
        ("Ctrl", "xi1 ti4 a4 er5 ai2 le5"),
        ("【注意】", "zhu4 yi4"),
    ],
)
def test_pinyin(text: str, pinyin: str) -> None:
    assert to_pinyin(text) == pinyin


def test_the_pipeline_is_chosen_by_engine_and_voice() -> None:
    text = spoken_text("您好，上午 10:30。", "zh_CN")
    assert engine_text(text, "espeak", "sit/cmn-latn-pinyin") == "nin2 hao3, shang4 wu3 shi2 dian3 ban4."
    assert (
        engine_text(text, "sapi5", HUIHUI) == "您好，上午十点半。"
    )  # a Chinese SAPI5 voice reads characters
    assert engine_text("Hello, 10:30.", "espeak", "gmw/en-US") == "Hello, 10:30."
    assert is_pinyin_voice("espeak", "sit/cmn-Latn-pinyin")
    assert not is_pinyin_voice("espeak", "sit/cmn") and not is_pinyin_voice("sapi5", HUIHUI)


def test_every_syllable_pypinyin_can_give_and_every_letter_is_mandarin_in_espeak() -> None:
    """Whatever characters a prompt holds, what the engine is handed never makes espeak-ng switch language."""
    from pypinyin.contrib.tone_convert import to_tone3
    from pypinyin.pinyin_dict import pinyin_dict

    syllables = {
        to_tone3(p, neutral_tone_with_five=True).replace("ü", "v").replace("ê", "ei")
        for readings in pinyin_dict.values()
        for p in readings.split(",")
    }
    assert len(syllables) > 1400
    letters = " ".join(LETTERS.values())
    assert switches(" ".join(sorted(syllables)) + " " + letters) == []
    # …while the same check does see English: Latin text as it is, through either Mandarin voice.
    assert "en" in switches("ABC", "cmn-latn-pinyin")
    assert "en" in switches("您好", "cmn")


def test_mandarin_share_counts_characters_by_clause() -> None:
    prompts = ["您好，ABC。", "请按确认。"]
    share = mandarin_share(prompts, lambda clause: clause, voice="cmn-latn-pinyin")
    assert isinstance(share, Share)
    assert (share.mandarin, share.total) == (6, 9)  # 您好 and 请按确认 are Mandarin; ABC switches to English
    assert share.switched == [("ABC。", "ABC。")]
    converted = mandarin_share(prompts, lambda clause: to_pinyin(spoken_text(clause, "zh_CN")))
    assert converted.pct == 100.0 and converted.switched == []
    assert "n'i35n" in phonemes("nin2 hao3")
