"""The kinds of message and their default texts.

A text names the service kind ("远程问诊", "远程课堂") but never the clinic's speciality: the phone may be a family
member's, and what a resident sees a doctor about is theirs to tell. Parameters are plain strings in a fixed order
(Tencent Cloud SMS templates take a list, `{1}`, `{2}`, …; the HTTP gateway gets the rendered text).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from enum import StrEnum

from cunzhan.i18n import N_


class Kind(StrEnum):
    CONFIRMED = "confirmed"  # a booking confirmed after review, or a lease booking confirmed
    REJECTED = "rejected"  # refused after review, with the reason
    MOVED = "moved"  # staff moved the booking to another session
    PROMOTED = "promoted"  # from the waiting list to a seat
    SESSION_CANCELLED = "session_cancelled"
    SESSION_MOVED = "session_moved"
    REMINDER_DAY = "reminder_day"  # the day before
    REMINDER_SOON = "reminder_soon"  # two hours before


# Parameter names per kind, in template order.
PARAMS: dict[Kind, tuple[str, ...]] = {
    Kind.CONFIRMED: ("what", "when", "code"),
    Kind.REJECTED: ("what", "when", "reason"),
    Kind.MOVED: ("what", "when", "code"),
    Kind.PROMOTED: ("what", "when", "code"),
    Kind.SESSION_CANCELLED: ("what", "when"),
    Kind.SESSION_MOVED: ("what", "when", "code"),
    Kind.REMINDER_DAY: ("what", "when", "code"),
    Kind.REMINDER_SOON: ("what", "when", "code"),
}

# Plain Chinese, short enough for one SMS (70 characters) with typical values; a township may replace any of them.
DEFAULT_TEXTS: dict[Kind, str] = {
    Kind.CONFIRMED: "您预约的{what}已确认：{when}，预约号{code}。请提前10分钟到村服务站签到。",
    Kind.REJECTED: "您预约的{what}（{when}）未能安排：{reason}。可到村服务站另约时间。",
    Kind.MOVED: "您预约的{what}已改到{when}，预约号{code}。如不方便请到村服务站改约。",
    Kind.PROMOTED: "您候补的{what}有空位了：{when}，预约号{code}。请按时到村服务站签到。",
    Kind.SESSION_CANCELLED: "抱歉，{when}的{what}已取消。可到村服务站另约时间。",
    Kind.SESSION_MOVED: "您预约的{what}时间有变：改为{when}，预约号{code}。",
    Kind.REMINDER_DAY: "提醒：您明天有{what}，{when}，预约号{code}。请提前10分钟到村服务站签到。",
    Kind.REMINDER_SOON: "提醒：您的{what}将在{when}开始，预约号{code}。请现在到村服务站签到。",
}

MAX_TEXT = (
    300  # characters a township's template may have (a long SMS is split by the operator, up to ~5 parts)
)


class TemplateError(ValueError):
    """A template a township wrote cannot be used. `msgid` (English, translatable) and `params` say why; `message`
    is it in the current language."""

    def __init__(self, msgid: str, **params: str) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params

    @property
    def message(self) -> str:
        from cunzhan.i18n import gettext

        return gettext(self.msgid).format(**self.params)


def check_template(kind: Kind, text: str) -> str:
    """The template, stripped, if it is usable for `kind`: not empty, not too long, and naming only that kind's
    parameters (each in braces). Raises TemplateError otherwise."""
    text = text.strip()
    if not text:
        raise TemplateError(N_("The text of a message cannot be empty."))
    if len(text) > MAX_TEXT:
        raise TemplateError(N_("A message can have at most {count} characters."), count=str(MAX_TEXT))
    try:
        names = [field[1] for field in string.Formatter().parse(text) if field[1] is not None]
    except ValueError as exc:
        raise TemplateError(N_("Unmatched braces: write a parameter like {{what}}.")) from exc
    allowed = PARAMS[kind]
    unknown = sorted({n for n in names if n not in allowed})
    if unknown:
        raise TemplateError(
            N_("Unknown parameter: {unknown}. This message can use: {allowed}."),
            unknown="、".join("{" + n + "}" for n in unknown),
            allowed="、".join("{" + n + "}" for n in allowed),
        )
    return text


def render(kind: Kind, params: Mapping[str, str], template: str | None = None) -> str:
    """The message text: the township's template for `kind` if it has one, else the default."""
    text = template or DEFAULT_TEXTS[kind]
    return text.format_map({name: params.get(name, "") for name in PARAMS[kind]})


def ordered(kind: Kind, params: Mapping[str, str]) -> list[str]:
    """The parameters in template order (for a provider whose templates are registered with numbered slots)."""
    return [params.get(name, "") for name in PARAMS[kind]]
