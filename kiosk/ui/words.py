"""Dates, times and places in plain words, the way a clerk would say them (translatable). `sentences` (from
`cunzhan.i18n`) joins them."""

from __future__ import annotations

import datetime as dt

from cunzhan.i18n import N_
from cunzhan.i18n import gettext as _

WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)


def day_words(day: dt.date, today: dt.date) -> str:
    """`今天 11月30日 星期一`: today / tomorrow / the day after named first."""
    date = _("{month}/{day}").format(month=day.month, day=day.day)
    weekday = _(WEEKDAYS[day.weekday()])
    offset = (day - today).days
    near = {0: N_("Today"), 1: N_("Tomorrow"), 2: N_("The day after tomorrow")}.get(offset)
    if near:
        return _("{near}, {date}, {weekday}").format(near=_(near), date=date, weekday=weekday)
    return _("{date}, {weekday}").format(date=date, weekday=weekday)


def time_words(moment: dt.datetime) -> str:
    """`上午 9:00` / `下午 2:30` (12-hour clock with the part of the day, as people say it)."""
    hour, minute = moment.hour, moment.minute
    if hour < 12:
        part = N_("morning {time}")
    elif hour < 18:
        part = N_("afternoon {time}")
    else:
        part = N_("evening {time}")
    shown = hour if hour <= 12 else hour - 12
    return _(part).format(time=f"{shown}:{minute:02d}")


def when_words(start: dt.datetime, today: dt.date) -> str:
    """Day and time together."""
    return _("{day}, {time}").format(day=day_words(start.date(), today), time=time_words(start))


def past_words(moment: dt.datetime, today: dt.date) -> str:
    """When something happened, as people say it: `今天下午 2:30`, `昨天晚上 10:06`, else `11月28日 下午 2:30`."""
    near = {0: N_("Today"), 1: N_("Yesterday")}.get((today - moment.date()).days)
    day = _(near) if near else _("{month}/{day}").format(month=moment.month, day=moment.day)
    return _("{day} {time}").format(day=day, time=time_words(moment))
