"""Text → spoken Mandarin: numbers the way people say them, then tone-numbered pinyin for espeak-ng.

Two steps, so each engine gets what it reads well (`engine_text`):

1. `say_numbers(text)` (every Chinese voice): digits become words as a clerk would say them — `上午 10:30` → 上午十点半,
   `12月3日` → 十二月三日, `1948年` → 一九四八年, `12.50元` → 十二元五角, `50%` → 百分之五十, `第2页` → 第二页,
   `2个` → 两个, `201室` → 二零幺室; digit strings (ID and phone numbers, booking codes `07-0042-3`, `0571-8888 1234`,
   digits typed one by one `3 3 0 1`) are read digit by digit in their groups, 1 as 幺 (`numbers.spoken_digits`).
   Plain Chinese characters, so a Chinese SAPI5 voice (Microsoft Huihui) reads the result directly.
2. `to_pinyin(text)` (espeak-ng's `cmn-latn-pinyin` voice only): characters become tone-numbered pinyin with
   pypinyin's phrase data (polyphones by word: 银行 yin2 hang2, 长辈 zhang3 bei4) plus the kiosk's own words
   (`KIOSK_PHRASES`: 重听 chong2 ting1 is "listen again" here, not "hard of hearing"), with the tone changes of
   不 and 一 applied (espeak-ng itself changes third-tone pairs). Latin letters are spelt with the names Chinese speakers give them
   (ID → ai4 di4, X → ai2 ke4 si5), punctuation becomes pauses, and any other symbol is dropped: nothing is left
   for espeak-ng to read as English. espeak-ng's plain `cmn` voice reads characters through English-spelt pinyin
   ("nin two hao three") and is never used.

pypinyin is imported on first use (about 0.3 s and 55 MB): only the speech renderer process converts to pinyin.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from kiosk.accessibility.numbers import speak_masked, speakable, spoken_digits

DIGITS = "零一二三四五六七八九"

# Measure words after which 2 is said 两 (两个, 两位, 两天), not 二.
MEASURE = set("个位次人天条张页件项名岁元块分秒周月年本盒份只台小钟点层号楼遍间")

# How Chinese speakers name Latin letters, in tone-numbered pinyin (every syllable checked against espeak-ng).
LETTERS = {
    "A": "ei1",
    "B": "bi4",
    "C": "xi1",
    "D": "di4",
    "E": "yi4",
    "F": "ai2 fu5",
    "G": "ji4",
    "H": "ai1 qi1",
    "I": "ai4",
    "J": "jie4",
    "K": "kai4",
    "L": "ai2 le5",
    "M": "ai2 mu5",
    "N": "en1",
    "O": "ou1",
    "P": "pi4",
    "Q": "qiu1",
    "R": "a4 er5",
    "S": "ai2 si5",
    "T": "ti4",
    "U": "you1",
    "V": "wei1",
    "W": "da2 bu5 liu2",
    "X": "ai2 ke4 si5",
    "Y": "wai4",
    "Z": "zei4",
}

# Symbols said as words (in pinyin); other symbols that are not pauses are dropped.
SYMBOLS = {
    "+": "jia1",
    "=": "deng3 yu2",
    "&": "he2",
    "@": "ai1 te4",
    "#": "jing3 hao4",
    "%": "bai3 fen1 hao4",
}
_PAUSE = {
    "，": ",",
    "、": ",",
    "；": ",",
    "：": ",",
    ",": ",",
    ";": ",",
    ":": ",",
    "／": ",",
    "/": ",",
    "(": ",",
    ")": ",",
    "（": ",",
    "）": ",",
    "—": ",",
    "-": ",",
    "~": ",",
    "～": ",",
    "…": ",",
    "·": ",",
    "_": ",",
    "。": ".",
    "！": ".",
    ".": ".",
    "!": ".",
    "？": "?",
    "?": "?",
    "\n": ".",
}

# The kiosk's own words whose reading pypinyin's general phrase data gets wrong for the kiosk's meaning.
KIOSK_PHRASES: dict[str, list[list[str]]] = {
    "重听": [["chóng"], ["tīng"]],  # the repeat button: "listen again"
    "还需要": [["hái"], ["xū"], ["yào"]],
    "还是": [["hái"], ["shì"]],
    "还要": [["hái"], ["yào"]],
    "还有": [["hái"], ["yǒu"]],
    "还没": [["hái"], ["méi"]],
    "还在": [["hái"], ["zài"]],
    "要等": [["yào"], ["děng"]],
    "约满": [["yuē"], ["mǎn"]],
    "预约单": [["yù"], ["yuē"], ["dān"]],
    "行动": [["xíng"], ["dòng"]],
    "一行": [["yì"], ["háng"]],
    "长辈": [["zhǎng"], ["bèi"]],
    "长辈模式": [["zhǎng"], ["bèi"], ["mó"], ["shì"]],
    "银行": [["yín"], ["háng"]],
    "得到": [["dé"], ["dào"]],
    "讲得": [["jiǎng"], ["de"]],
    "看一看": [["kàn"], ["yi"], ["kàn"]],
    "重设": [["chóng"], ["shè"]],
    "一场": [["yì"], ["chǎng"]],
    "调好": [["tiáo"], ["hǎo"]],
    "调大": [["tiáo"], ["dà"]],
    "请调好": [["qǐng"], ["tiáo"], ["hǎo"]],
    "记为": [["jì"], ["wéi"]],
    "号为": [["hào"], ["wéi"]],
    "不差地": [["bú"], ["chà"], ["de"]],
}
# Characters whose first reading is wrong for the kiosk's words: 长 is cháng (时间太长, 更长) except in 长辈.
KIOSK_CHARACTERS = {ord("长"): "cháng,zhǎng"}

_FULLWIDTH = {
    **{chr(0xFF10 + i): str(i) for i in range(10)},
    **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
    **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
}
_FULLWIDTH_TABLE = str.maketrans(_FULLWIDTH)
_ALL_FULLWIDTH_TABLE = str.maketrans({chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)})


# --------------------------------------------------------------------------------------------- numbers in words


def _under_10k(n: int, *, leading: bool) -> str:
    """1..9999 in characters; `leading` when nothing comes before (十五, not 一十五)."""
    parts: list[str] = []
    zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d == 0:
            zero = bool(parts)
            continue
        if zero:
            parts.append("零")
            zero = False
        if value == 10 and d == 1 and not parts and leading:
            parts.append("十")
        elif value == 1000 and d == 2:
            parts.append("两千")
        else:
            parts.append(DIGITS[d] + unit)
    return "".join(parts)


def cardinal(n: int) -> str:
    """A quantity as said: 0 零, 10 十, 15 十五, 105 一百零五, 2000 两千, 20000 两万, 10010 一万零一十."""
    if n < 0:
        return "负" + cardinal(-n)
    if n == 0:
        return "零"
    for size, unit in ((10**8, "亿"), (10**4, "万")):
        if n >= size:
            high, low = divmod(n, size)
            head = "两" if high == 2 else cardinal(high)
            if not low:
                return head + unit
            gap = "零" if low < size // 10 else ""
            return head + unit + gap + (_under_10k(low, leading=False) if low < 10**4 else cardinal(low))
    return _under_10k(n, leading=True)


def year_digits(digits: str) -> str:
    """A year digit by digit: 1948 → 一九四八, 2026 → 二零二六."""
    return "".join(DIGITS[int(d)] for d in digits)


def clock(hour: int, minute: int, part: str = "") -> str:
    """上午十点半, 下午两点, 十点零五分, 十点十五分; a 24-hour time without a part of the day gets one (14:30 → 下午两点半)."""
    if not part:
        if 13 <= hour < 18:
            part, hour = "下午", hour - 12
        elif hour >= 18:
            part, hour = "晚上", hour - 12
        elif hour < 5:
            part = "凌晨"
    said = ("两" if hour == 2 else cardinal(hour)) + "点"
    if minute == 30:
        said += "半"
    elif 0 < minute < 10:
        said += "零" + DIGITS[minute] + "分"
    elif minute:
        said += cardinal(minute) + "分"
    return part + said


def money(yuan: str, cents: str = "") -> str:
    """12 / 50 → 十二元五角; 0 / 5 → 五角; 3 / 05 → 三元零五分."""
    cents = (cents + "00")[:2]
    jiao, fen = int(cents[0]), int(cents[1])
    said = (
        "" if int(yuan) == 0 and (jiao or fen) else ("两" if int(yuan) == 2 else cardinal(int(yuan))) + "元"
    )
    if jiao:
        said += DIGITS[jiao] + "角"
    elif fen and said:
        said += "零"
    if fen:
        said += DIGITS[fen] + "分"
    return said


def _decimal(whole: str, fraction: str) -> str:
    return cardinal(int(whole)) + "点" + "".join(DIGITS[int(d)] for d in fraction)


def _digits_read(groups: list[str]) -> str:
    """Digit groups read one digit at a time (1 as 幺, X as 叉), a pause between groups."""
    return "，".join(spoken_digits(g, "", "zh_CN").replace("，", "") for g in groups if g)


_PART = r"(上午|下午|中午|晚上|早上|凌晨|傍晚)?\s*"
_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # masked details: 3301**********1234 → 三三零幺，幺二三四 (the hidden digits a pause)
    (re.compile(r"[0-9Xx]*\*{2,}[0-9Xx*]*"), lambda m: speak_masked(m[0], "zh_CN")),
    # numbers that name something are read digit by digit: 尾号 1234 → 尾号幺二三四, 工号 1001
    (
        re.compile(
            r"(尾号|号码|编号|工号|账号|卡号|电话|手机号)(是|为)?([\s:：]*)(\d+(?:[ -]\d+)*[Xx]?)(?![\d.])"
            r"(?!\s*(?:秒|分钟|小时|天|位|个|次))"  # 显示号码 10秒后隐藏: a duration, not a number's digits
        ),
        lambda m: m[1] + (m[2] or "") + m[3] + _digits_read(re.split(r"[ -]", m[4])),
    ),
    # ISO dates: 2026-12-03 → 二零二六年十二月三日
    (
        re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)"),
        lambda m: f"{year_digits(m[1])}年{cardinal(int(m[2]))}月{cardinal(int(m[3]))}日",
    ),
    # digits spelt out one by one, in groups: 您的预约号是 0 0、0 0 0 1、1 → 零零、零零零幺、幺
    (
        re.compile(r"(?<![\d.])\d(?:[ 、]\d)* \d(?:[ 、]\d)*(?![\d.:：])"),
        lambda m: "、".join(_digits_read([g.replace(" ", "")]) for g in m[0].split("、")),
    ),
    # digit strings with separators: booking codes 07-0042-3, phones 0571-8888 1234, digits typed 3 3 0 1
    (re.compile(r"(?<![\d.])\d+(?:[ -]\d+)+(?![\d.:：])"), lambda m: _separated(m[0])),
    # times: 上午 10:30 → 上午十点半
    (
        re.compile(_PART + r"(?<!\d)(\d{1,2})\s*[:：]\s*(\d{2})(?!\d)"),
        lambda m: clock(int(m[2]), int(m[3]), m[1] or "") if int(m[2]) < 24 and int(m[3]) < 60 else m[0],
    ),
    # years: 1948年 → 一九四八年
    (re.compile(r"(?<!\d)(\d{4})(\s*)年"), lambda m: year_digits(m[1]) + "年"),
    # month and day: 12月3日 → 十二月三日
    (
        re.compile(r"(?<!\d)(\d{1,2})\s*月\s*(\d{1,2})\s*([日号])"),
        lambda m: f"{cardinal(int(m[1]))}月{cardinal(int(m[2]))}{m[3]}",
    ),
    # money: ¥12.50 / 12.50元 → 十二元五角
    (re.compile(r"[¥￥]\s*(\d+)(?:\.(\d{1,2}))?"), lambda m: money(m[1], m[2] or "")),
    (re.compile(r"(?<![\d.])(\d+)(?:\.(\d{1,2}))?\s*(?:元|块钱|块)"), lambda m: money(m[1], m[2] or "")),
    # percent: 50% → 百分之五十
    (
        re.compile(r"(?<![\d.])(\d+)(?:\.(\d+))?\s*[%％]"),
        lambda m: "百分之" + (_decimal(m[1], m[2]) if m[2] else cardinal(int(m[1]))),
    ),
    # room numbers are read digit by digit: 201室 → 二零幺室, 诊室 305 → 诊室三零五
    (
        re.compile(r"(?<![\d.])(\d{3,4})(\s*)(室|房间|号房|号诊室|诊室|教室|办公室)"),
        lambda m: _digits_read([m[1]]) + m[3],
    ),
    (re.compile(r"(室|房间|房|教室)(\s*)(\d{3,4})(?![\d.])"), lambda m: m[1] + _digits_read([m[3]])),
    # decimals: 1.5 → 一点五
    (re.compile(r"(?<![\d.])(\d+)\.(\d+)(?![\d.])"), lambda m: _decimal(m[1], m[2])),
    # ordinals: 第2页 → 第二页
    (re.compile(r"第\s*(\d+)"), lambda m: "第" + cardinal(int(m[1]))),
    # a year on its own: 比如2016 → 比如二零一六
    (
        re.compile(r"(?<![\d.])((?:19|20)\d\d)(?![\d.])(?!\s*[" + "".join(sorted(MEASURE)) + "])"),
        lambda m: year_digits(m[1]),
    ),
    # ranges: 1-5 → 一到五
    (
        re.compile(r"(?<![\d.])(\d+)\s*[~～]\s*(\d+)(?![\d.])"),
        lambda m: cardinal(int(m[1])) + "到" + cardinal(int(m[2])),
    ),
    # any other whole number; 2 before a measure word is 两
    (re.compile(r"\d+(?=(\s*)(.?))"), lambda m: _quantity(m[0], m[2])),
]


def _separated(raw: str) -> str:
    groups = re.split(r"[ -]+", raw)
    if all(len(g) == 1 for g in groups):  # digits typed or read out one by one: 3 3 0 1 → 三三零幺
        return _digits_read(["".join(groups)])
    if sum(len(g) for g in groups) >= 5 or "-" in raw:
        return _digits_read(groups)
    return " ".join(_quantity(g, "") for g in groups)  # e.g. "共 3 4" stays two numbers


def _quantity(digits: str, after: str) -> str:
    if len(digits) > 1 and digits.startswith("0"):  # 007, 0571: not a quantity
        return _digits_read([digits])
    n = int(digits)
    if n == 2 and after in MEASURE:
        return "两"
    return cardinal(n)


def say_numbers(text: str) -> str:
    """Chinese text with every number in words, as people say it (see the module docstring)."""
    text = speakable(text.translate(_FULLWIDTH_TABLE), "zh_CN")  # ID, phone: 5 or more digits, digit by digit
    for pattern, replace in _RULES:
        text = pattern.sub(replace, text)
    return text


# --------------------------------------------------------------------------------------------- pinyin


def load_pinyin() -> None:
    """Import pypinyin and its phrase data now (about 0.3 s), so the first prompt does not wait for it."""
    _pypinyin()


_load_lock = threading.Lock()


@lru_cache(maxsize=1)
def _pypinyin_loaded() -> Any:
    import pypinyin

    pypinyin.load_single_dict(KIOSK_CHARACTERS)
    pypinyin.load_phrases_dict(KIOSK_PHRASES)
    return pypinyin


def _pypinyin() -> Any:
    with _load_lock:  # loaded once, even when a prompt arrives while `load_pinyin` runs on another thread
        return _pypinyin_loaded()


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_NUMBER_CHARS = set(DIGITS + "十百千万亿两幺第")
_AFTER_NUMBER = set("月日号楼层到")  # 一月, 一号, 一楼, 按一到五: the number one
_BEFORE_NUMBER = set(
    "第午晨"
)  # 第一, 下午一点, 凌晨一点 (按一，: a key, at the end of its clause, stays yi1)


def _syllables(run: str) -> list[str]:
    """Tone-numbered syllables of a run of characters, one per character, with the tone changes of 一 and 不."""
    pypinyin = _pypinyin()
    # pypinyin's tone changes are left off: its rule for 一 also changes the number one (按一 → yi2); 不 and 一 are
    # done below, third-tone pairs by espeak-ng itself (ni3 hao3 is spoken ni2 hao3).
    found = pypinyin.lazy_pinyin(run, style=pypinyin.Style.TONE3, neutral_tone_with_five=True)
    syllables = [s.replace("ü", "v").replace("ê", "ei") for s in found]
    if len(syllables) != len(run):  # never expected: then one character at a time
        syllables = [s for ch in run for s in _syllables(ch)[:1]] if len(run) > 1 else []
    for i, ch in enumerate(run):
        nxt = syllables[i + 1] if i + 1 < len(run) else ""
        if ch == "不" and nxt:
            syllables[i] = "bu2" if nxt.endswith("4") else "bu4"
        elif ch == "一" and nxt:
            before = run[i - 1] if i else ""
            after = run[i + 1]
            later = run[i + 2] if i + 2 < len(run) else ""
            if (
                before in _NUMBER_CHARS | _BEFORE_NUMBER
                or after in _NUMBER_CHARS | _AFTER_NUMBER
                or (after == "点" and (later in _NUMBER_CHARS or later in {"半", "钟", "整"}))
            ):
                syllables[i] = "yi1"  # the number one: 十一, 第一, 一九四八, 一月, 按一, 一点五, 一点半
            elif before and before == after:
                syllables[i] = "yi5"  # 看一看
            else:
                syllables[i] = "yi2" if nxt.endswith("4") else "yi4"  # 一个 yi2 ge4, 一起 yi4 qi3
    return syllables


def to_pinyin(text: str) -> str:
    """Chinese text (numbers already in words) → tone-numbered pinyin for espeak-ng's `cmn-latn-pinyin` voice.

    `您好！请按“确认”。` → `nin2 hao3. qing3 an4 que4 ren4.`; Latin letters are spelt (`U盘` → `you1 pan2`).
    """
    text = text.translate(_ALL_FULLWIDTH_TABLE)
    out: list[str] = []
    pos = 0

    def pause(mark: str) -> None:
        if not out:
            return
        if out[-1] in {",", ".", "?"}:
            if mark != "," and out[-1] == ",":
                out[-1] = mark
            return
        out.append(mark)

    for match in _HAN.finditer(text):
        _other(text[pos : match.start()], out, pause)
        out.extend(_syllables(match.group(0)))
        pos = match.end()
    _other(text[pos:], out, pause)
    while out and out[0] in {",", ".", "?"}:
        out.pop(0)
    while out and out[-1] == ",":
        out.pop()
    spoken = " ".join(out)
    return re.sub(r" ([,.?])", r"\1", spoken).strip()


def _other(chunk: str, out: list[str], pause: Callable[[str], None]) -> None:
    """Everything that is not a Chinese character: letters spelt, digits said, punctuation as pauses, rest dropped."""
    for ch in chunk:
        upper = ch.upper()
        if upper in LETTERS:
            out.extend(LETTERS[upper].split())
        elif ch.isdigit() and ch in "0123456789":
            out.extend(_syllables(DIGITS[int(ch)]))
        elif ch in _PAUSE:
            pause(_PAUSE[ch])
        elif ch in SYMBOLS:
            out.extend(SYMBOLS[ch].split())


# --------------------------------------------------------------------------------------------- engines


def is_pinyin_voice(driver: str, voice: str) -> bool:
    """Whether the engine's voice reads Latin text as pinyin (espeak-ng `cmn-latn-pinyin`): it needs `to_pinyin`."""
    return driver == "espeak" and "pinyin" in voice.lower()


def engine_text(text: str, driver: str, voice: str) -> str:
    """The exact text handed to the engine for a prompt already in spoken form (`say_numbers` done).

    espeak-ng's pinyin voice gets tone-numbered pinyin; every other voice (a Chinese SAPI5 voice reads characters
    directly, an English voice reads English) gets the text as it is.
    """
    if is_pinyin_voice(driver, voice):
        return to_pinyin(text)
    return text


def spoken_text(text: str, locale: str) -> str:
    """A prompt in the words a voice should say, for any engine: in Chinese, numbers in words (`say_numbers`);
    in English, long digit strings read digit by digit in groups (`numbers.speakable`)."""
    if locale.startswith("zh"):
        return say_numbers(text)
    return speakable(text, locale)


def pipeline_name(driver: str) -> str:
    """What turns text into engine text for `driver` (part of the render cache key: a new pypinyin re-renders)."""
    if driver != "espeak":
        return "text"
    from importlib.metadata import version

    return f"pypinyin {version('pypinyin')}"
