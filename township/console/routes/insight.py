"""The county's view (#18): the weekly dashboard, satisfaction with the low ratings to follow up, the needs profile
and the third-party evaluation export, over `township.insight`.

Every page reads what the account may see, `staff.scope` (a township, or a county and all its townships), and may
be narrowed to one of its townships (`?township=`); a township outside the scope is refused, never widened
(`insight.scope.narrow`). The `*_context` functions build a page from a connection and a scope, so the county's
pages are the same code whether the scope comes from a county account or from a test.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from collections.abc import Callable, Sequence
from operator import add
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from cunzhan.i18n import N_
from township import db, services
from township.console.charts import Bar, Point, bar_chart, week_chart
from township.console.deps import (
    PREFIX,
    Console,
    ConsoleDep,
    FiguresAdmin,
    FiguresReader,
    Posted,
    PostedAdmin,
    PostedCountyAdmin,
    PostedFiguresAdmin,
    Refused,
    Who,
    parse_day,
    safe_back,
    with_done,
)
from township.console.web import request_locale, tr
from township.insight import dashboard, evaluation, needs, satisfaction
from township.insight.dashboard import Figures, WeekRow
from township.insight.scope import OutOfScope, Scope, Town, last_weeks, monday, narrow, towns, week_bounds
from township.insight.scope import township_ids as scope_townships

router = APIRouter(prefix=PREFIX, include_in_schema=False)

GROUPINGS: dict[str, str] = {
    "township": N_("Township"),
    "village": N_("Village"),
    "service": N_("Service"),
    "provider": N_("Doctor or teacher"),
}
# The figure shown week by week per group, and on the groups' chart.
FIGURES: dict[str, str] = {
    "bookings": N_("Bookings"),
    "attended": N_("Attended"),
    "no_show_rate": N_("No-show rate"),
    "waitlisted": N_("On a waiting list"),
    "refused": N_("Refused: no seat left"),
    "satisfaction": N_("Satisfaction (1–5)"),
}
PERIODS = (4, 8, 12, 26)
SATISFACTION_PERIODS = (4, 12, 26, 52)
NEEDS_PERIODS = (4, 8, 12)
CHART_ROWS = 15  # a bar chart shows this many groups; the table below it has them all
MAX_EXPORT_DAYS = 366
XLSX_MAX_ROWS = 1_048_575  # a worksheet's rows, less the header


def _choice(value: str, allowed: Sequence[str], default: str) -> str:
    return value if value in allowed else default


def _small_number(value: str) -> int | None:
    """A whole number written in 1–4 ASCII digits, else None ("²" is a digit to `str.isdigit` but not to `int`, and
    `int` refuses 4,300 digits and more)."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 4 else None


def _weeks(value: str, allowed: Sequence[int], default: int) -> int:
    number = _small_number(value)
    return number if number is not None and number in allowed else default


def _scoped(conn: Connection, request: Request, scope: Scope, township: str) -> tuple[Scope, list[Town]]:
    """The scope narrowed to `township` (empty: all of it) and the townships it covers for the filter; a township
    outside it is refused."""
    try:
        everyone = towns(conn, scope)
        shown = narrow(conn, scope, township or None)
    except OutOfScope as exc:
        raise Refused(
            403,
            tr(N_("Not your township"), request),
            tr(N_("Your account cannot see the figures of this township."), request),
            back=PREFIX + "/insight",
        ) from exc
    return shown, everyone


def value_of(figures: Figures, figure: str) -> float | None:
    """The number drawn for `figure` (a rate in percent); None when there is none yet."""
    if figure == "no_show_rate":
        rate = figures.no_show_rate
        return None if rate is None else 100 * rate
    if figure == "satisfaction":
        return figures.rating_mean
    return float(getattr(figures, figure))


def text_of(figures: Figures, figure: str) -> str:
    """`value_of` as people read it: "12%", "4.2", "37"; "—" when there is none."""
    value = value_of(figures, figure)
    if value is None:
        return "—"
    if figure == "no_show_rate":
        return f"{value:.0f}%"
    if figure == "satisfaction":
        return f"{value:.1f}"
    return str(int(value))


def _week_label(week: dt.date) -> str:
    return week.strftime("%m-%d")


def own_township(scope: Scope) -> str:
    """The township whose staff is looking (a township account's scope), "" for a county account. Only they open
    a booking, read a resident's comment and follow-up notes, follow up and schedule: a county account sees the
    ratings, the reasons and whether each was followed up, and forwards a need to its township."""
    return scope.id if scope.level == "township" else ""


def _base(request: Request, scope: Scope, everyone: list[Town], township: str) -> dict[str, Any]:
    """What every insight page shows at its top: whose figures, and the township filter of a county."""
    return {
        "towns": everyone,
        "township": township,
        "county_wide": scope.level == "county" and len(everyone) > 1,
        "scope_name": next((t.name for t in everyone if t.id == township), None)
        or (
            tr(N_("All townships of the county"), request)
            if scope.level == "county"
            else (everyone[0].name if everyone else "")
        ),
    }


def dashboard_context(
    conn: Connection,
    request: Request,
    scope: Scope,
    *,
    by: str = "township",
    figure: str = "bookings",
    township: str = "",
    weeks: str = "8",
    until: str = "",
    today: dt.date,
) -> dict[str, Any]:
    """The dashboard: the scope's figures week by week (four charts and their table), per township, village,
    service or provider (a chart of `figure` and the table of every figure), and `figure` per group and week."""
    by = _choice(by, tuple(GROUPINGS), "township")
    figure = _choice(figure, tuple(FIGURES), "bookings")
    count = _weeks(weeks, PERIODS, 8)
    last = parse_day(until, today)
    shown, everyone = _scoped(conn, request, scope, township)
    rows = dashboard.weekly(conn, shown, by, weeks=count, today=last)  # type: ignore[arg-type]
    week_list = last_weeks(last, count)
    several = shown == scope and len(everyone) > 1
    # Summed as lists of counts: a county's page adds thousands of rows (400 villages × the weeks).
    width = len(Figures().counts())
    week_sums: dict[dt.date, list[int]] = {w: [0] * width for w in week_list}
    group_sums: dict[tuple[str, str], list[int]] = {}
    # The matrix shows one figure: each cell is written as text here, in the same pass.
    texts: dict[tuple[str, str], dict[dt.date, str]] = defaultdict(dict)
    labels: dict[tuple[str, str], str] = {}
    this_week = monday(last)
    oldest: dt.datetime | None = None
    counted_live = False
    for row in rows:
        key = (row.township_id, row.key)
        counts = row.figures.counts()
        total = group_sums.get(key)
        if total is None:
            labels[key] = _group_label(row, by, several)
            group_sums[key] = list(counts)
        else:
            group_sums[key] = list(map(add, total, counts))
        week_sums[row.week] = list(map(add, week_sums.get(row.week) or [0] * width, counts))
        texts[key][row.week] = text_of(row.figures, figure)
        if row.as_of is None:
            # Weeks over but not rolled up yet (a new database, before the first rollup after start): counted now.
            counted_live = counted_live or row.week < this_week
        elif oldest is None or row.as_of < oldest:
            oldest = row.as_of
    per_week = {w: Figures(*week_sums[w]) for w in sorted(week_sums)}
    groups = {k: Figures(*v) for k, v in group_sums.items()}
    week_list = list(per_week)
    titles = {
        "bookings": tr(N_("Bookings per week"), request),
        "no_show_rate": tr(N_("No-show rate per week (%)"), request),
        "refused": tr(N_("Refused for lack of seats per week"), request),
        "satisfaction": tr(N_("Satisfaction per week (mean rating, 1–5)"), request),
    }

    def per_week_chart(name: str, kind: str = "column", maximum: float | None = None) -> tuple[str, str]:
        points = [
            Point(_week_label(w), value_of(per_week[w], name), text_of(per_week[w], name)) for w in week_list
        ]
        return name, week_chart(points, title=titles[name], kind=kind, maximum=maximum)

    charts = [
        per_week_chart("bookings"),
        per_week_chart("no_show_rate", "line", 100),
        per_week_chart("refused"),
        per_week_chart("satisfaction", "line", 5),
    ]
    ordered = sorted(groups, key=lambda k: (-(value_of(groups[k], figure) or -1.0), labels[k], k[0], k[1]))
    by_group = [{"label": labels[k], "figures": groups[k]} for k in ordered]
    group_title = tr(FIGURES[figure], request) + " · " + tr(GROUPINGS[by], request)
    group_chart = bar_chart(
        [
            Bar(labels[k], value_of(groups[k], figure) or 0.0, text_of(groups[k], figure))
            for k in ordered[:CHART_ROWS]
        ],
        title=group_title,
        maximum=100 if figure == "no_show_rate" else 5 if figure == "satisfaction" else None,
    )
    empty = text_of(Figures(), figure)
    matrix = [
        {
            "label": labels[k],
            "cells": [texts[k].get(w, empty) for w in week_list],
        }
        for k in sorted(groups, key=lambda k: (labels[k], k))
    ]
    return {
        **_base(request, scope, everyone, township),
        "by": by,
        "figure": figure,
        "weeks": count,
        "until": last.isoformat(),
        "groupings": [(k, tr(v, request)) for k, v in GROUPINGS.items()],
        "figures": [(k, tr(v, request)) for k, v in FIGURES.items()],
        "periods": PERIODS,
        "week_list": week_list,
        "week_labels": [_week_label(w) for w in week_list],
        "per_week": per_week,
        "charts": [(titles[key], svg) for key, svg in charts],
        "by_group": by_group,
        "group_chart": group_chart,
        "group_title": group_title,
        "group_chart_more": max(0, len(ordered) - CHART_ROWS),
        "matrix": matrix,
        "by_label": tr(GROUPINGS[by], request),
        "figure_label": tr(FIGURES[figure], request),
        "as_of": oldest,
        "counted_live": counted_live,
    }


def _group_label(row: WeekRow, by: str, several: bool) -> str:
    """A group's name; a village, service or provider of a county also names its township (two townships may
    each have a 上坪村)."""
    label = row.label or "—"
    return f"{label} · {row.township}" if several and by != "township" else label


def satisfaction_context(
    conn: Connection,
    request: Request,
    scope: Scope,
    *,
    by: str = "service",
    township: str = "",
    weeks: str = "12",
    until: str = "",
    followed: str = "",
    today: dt.date,
) -> dict[str, Any]:
    """The satisfaction index per service, provider, village or township with its sample size, and the low ratings
    of the period with the reasons, to follow up: those not followed up first, then (`followed="1"`) those that
    were. A township's own staff also see the resident's comment and the follow-up notes, and each links to its
    booking; a county account sees neither comment nor note (`own_township`)."""
    by = _choice(by, ("service", "provider", "village", "township"), "service")
    count = _weeks(weeks, SATISFACTION_PERIODS, 12)
    last = parse_day(until, today)
    shown, everyone = _scoped(conn, request, scope, township)
    index = satisfaction.satisfaction_index(conn, shown, by, weeks=count, today=last)  # type: ignore[arg-type]
    covered = towns(conn, shown)
    several = len(covered) > 1
    first = last_weeks(last, count)[0]
    since = min((db.utc(week_bounds(first, t.tz)[0]) for t in covered), default=db.now_utc())
    home = own_township(scope)
    show_followed = followed == "1"
    low = satisfaction.low_ratings(
        conn, shown, since=since, with_comment=bool(home), followed_up=show_followed
    )
    low_rows = [
        {
            "r": r,
            "reasons": [tr(reason, request) for reason in r.reasons],
            "link": f"{PREFIX}/bookings/{r.booking_id}" if home and r.township_id == home else "",
            "own": bool(home) and r.township_id == home,
        }
        for r in low
    ]

    def label(x: satisfaction.Index) -> str:
        name = x.label or "—"
        return f"{name} · {x.township}" if several and by != "township" else name

    small = tr(N_("small sample"), request)
    title = tr(N_("Satisfaction index (0–100)"), request) + " · " + tr(GROUPINGS[by], request)
    chart = bar_chart(
        [
            Bar(
                label(x),
                x.index or 0.0,
                f"{x.index:.0f} (n={x.ratings})" + (f" {small}" if x.small_sample else ""),
            )
            for x in index[:CHART_ROWS]
        ],
        title=title,
        maximum=100,
    )
    return {
        **_base(request, scope, everyone, township),
        "by": by,
        "weeks": count,
        "until": last.isoformat(),
        "since": first.isoformat(),
        "groupings": [(k, tr(GROUPINGS[k], request)) for k in ("service", "provider", "village", "township")],
        "periods": SATISFACTION_PERIODS,
        "index": [{"x": x, "label": label(x)} for x in index],
        "chart": chart,
        "chart_more": max(0, len(index) - CHART_ROWS),
        "by_label": tr(GROUPINGS[by], request),
        "min_sample": satisfaction.MIN_SAMPLE,
        "low": low_rows,
        "followed": show_followed,
        "comments": bool(home),
        "note_max": satisfaction.NOTE_MAX,
    }


def create_link(need: needs.Need, weeks: int) -> str:
    """The schedule's create form, filled in for sessions that meet `need` (the scheduler checks and saves)."""
    query = {
        "service": need.service_id,
        "provider": need.provider_id or "",
        "day": need.next_date.isoformat(),
        "start": need.start.strftime("%H:%M"),
        "capacity": str(need.suggested_capacity),
        "repeat_weeks": str(weeks),
    }
    return f"{PREFIX}/sessions/new?{urlencode(query)}"


def needs_context(
    conn: Connection,
    request: Request,
    scope: Scope,
    *,
    township: str = "",
    weeks: str = "4",
    until: str = "",
    today: dt.date,
    can_schedule: bool,
) -> dict[str, Any]:
    """The needs profile: unmet demand ranked. A township's administrator gets a link to create sessions for each
    (the schedule is a township's), and the needs its county forwarded, each with that link and "handled"; a county
    account forwards a need to its township's administrators, and sees which it forwarded and are not handled."""
    count = _weeks(weeks, NEEDS_PERIODS, 4)
    last = parse_day(until, today)
    shown, everyone = _scoped(conn, request, scope, township)
    found = needs.needs_profile(conn, shown, weeks=count, today=last)
    locale = request_locale(request)
    home = own_township(scope)
    can_schedule = can_schedule and bool(home)
    forwarded = {r.key: r for r in needs.referrals(conn, scope_townships(conn, shown))}
    rows = [
        {
            "n": n,
            "text": n.describe(locale),
            "link": create_link(n, count) if can_schedule and n.township_id == home else "",
            "forwarded": forwarded.get(n.key),
        }
        for n in found
    ]
    by_key = {n.key: n for n in found}
    referred = [
        {
            "r": r,
            "text": r.describe(locale),
            "link": create_link(by_key.get(r.key) or needs.referral_need(r, today), r.weeks)
            if can_schedule
            else "",
        }
        for r in forwarded.values()
        if home
    ]
    title = tr(N_("Unmet demand, most first"), request)
    chart = bar_chart(
        [Bar(n.describe(locale).rsplit(":", 1)[0], n.total, str(n.total)) for n in found[:CHART_ROWS]],
        title=title,
        label_width=330,
        width=720,
    )
    return {
        **_base(request, scope, everyone, township),
        "weeks": count,
        "until": last.isoformat(),
        "periods": NEEDS_PERIODS,
        "needs": rows,
        "chart": chart,
        "chart_more": max(0, len(rows) - CHART_ROWS),
        "can_schedule": can_schedule,
        "can_forward": scope.level == "county",
        "referred": referred,
    }


def export_context(
    conn: Connection, request: Request, scope: Scope, *, township: str = "", today: dt.date
) -> dict[str, Any]:
    _shown, everyone = _scoped(conn, request, scope, township)
    return {
        **_base(request, scope, everyone, township),
        "start": (today - dt.timedelta(days=90)).isoformat(),
        "end": (today - dt.timedelta(days=1)).isoformat(),
        "max_days": MAX_EXPORT_DAYS,
        "columns": evaluation.COLUMNS,
        "k": evaluation.K,
        "error": "",
    }


def _tabs(request: Request, who: Who, current: str) -> list[tuple[str, str, bool]]:
    tabs = [
        (PREFIX + "/insight", tr(N_("Dashboard"), request), current == "dashboard"),
        (PREFIX + "/insight/satisfaction", tr(N_("Satisfaction"), request), current == "satisfaction"),
        (PREFIX + "/insight/needs", tr(N_("Needs profile"), request), current == "needs"),
    ]
    if who.staff.is_admin or who.staff.is_county_admin:
        tabs.append((PREFIX + "/insight/export", tr(N_("Evaluation export"), request), current == "export"))
    return tabs


def _page(
    console: Console,
    request: Request,
    who: Who,
    template: str,
    context: dict[str, Any],
    *,
    title: str,
    tab: str,
) -> Response:
    return console.page(
        request, who, template, {**context, "tabs": _tabs(request, who, tab)}, title=title, nav="insight"
    )


@router.get("/insight")
def dashboard_page(
    request: Request,
    console: ConsoleDep,
    who: FiguresReader,
    *,
    by: str = "township",
    figure: str = "bookings",
    township: str = "",
    weeks: str = "8",
    until: str = "",
) -> Response:
    with console.db.read() as conn:
        context = dashboard_context(
            conn,
            request,
            who.staff.scope,
            by=by,
            figure=figure,
            township=township,
            weeks=weeks,
            until=until,
            today=who.today(),
        )
    return _page(
        console,
        request,
        who,
        "insight_dashboard.html",
        context,
        title=tr(N_("Dashboard"), request),
        tab="dashboard",
    )


@router.get("/insight/satisfaction")
def satisfaction_page(
    request: Request,
    console: ConsoleDep,
    who: FiguresReader,
    *,
    by: str = "service",
    township: str = "",
    weeks: str = "12",
    until: str = "",
    followed: str = "",
) -> Response:
    with console.db.read() as conn:
        context = satisfaction_context(
            conn,
            request,
            who.staff.scope,
            by=by,
            township=township,
            weeks=weeks,
            until=until,
            followed=followed,
            today=who.today(),
        )
    return _page(
        console,
        request,
        who,
        "insight_satisfaction.html",
        context,
        title=tr(N_("Satisfaction"), request),
        tab="satisfaction",
    )


@router.get("/insight/needs")
def needs_page(
    request: Request,
    console: ConsoleDep,
    who: FiguresReader,
    *,
    township: str = "",
    weeks: str = "4",
    until: str = "",
) -> Response:
    with console.db.read() as conn:
        context = needs_context(
            conn,
            request,
            who.staff.scope,
            township=township,
            weeks=weeks,
            until=until,
            today=who.today(),
            can_schedule=who.staff.is_admin,
        )
    return _page(
        console,
        request,
        who,
        "insight_needs.html",
        context,
        title=tr(N_("Needs profile"), request),
        tab="needs",
    )


@router.post("/insight/satisfaction/follow-up")
def follow_up(
    request: Request,
    console: ConsoleDep,
    who: Posted,
    *,
    feedback: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """A low rating of the staff member's own township marked as followed up, with an optional short note."""
    to = safe_back(back, PREFIX + "/insight/satisfaction")
    try:
        with console.db.write() as conn:
            satisfaction.follow_up(conn, who.staff, feedback, note)
    except satisfaction.FollowUpError as exc:
        raise Refused(
            400, tr(N_("Not marked as followed up"), request), tr(exc.msgid, request, **exc.params), back=to
        ) from exc
    return console.redirect(request, who, with_done(to, "followed_up"))


@router.post("/insight/needs/forward")
def forward_need(
    request: Request,
    console: ConsoleDep,
    who: PostedCountyAdmin,
    *,
    township: Annotated[str, Form()] = "",
    village: Annotated[str, Form()] = "",
    service: Annotated[str, Form()] = "",
    weekday: Annotated[str, Form()] = "",
    band: Annotated[str, Form()] = "",
    weeks: Annotated[str, Form()] = "4",
    until: Annotated[str, Form()] = "",
) -> Response:
    """A need of the county's needs profile forwarded to its township's administrators (the county does not
    schedule a township's sessions). The need is looked up again, never taken from the form's numbers."""
    count = _weeks(weeks, NEEDS_PERIODS, 4)
    last = parse_day(until, who.today())
    back = f"{PREFIX}/insight/needs?" + urlencode({"weeks": count, "until": last.isoformat()})
    refused = tr(N_("Not forwarded"), request)
    with console.db.write() as conn:
        if not township:
            raise Refused(400, refused, tr(needs.ERR_NO_REFERRAL, request), back=back)
        shown, _everyone = _scoped(conn, request, who.staff.scope, township)
        wanted = (township, village, service, -1 if (day := _small_number(weekday)) is None else day, band)
        need = next(
            (n for n in needs.needs_profile(conn, shown, weeks=count, today=last) if n.key == wanted), None
        )
        if need is None:
            raise Refused(
                400, refused, tr(N_("This need is no longer in the needs profile."), request), back=back
            )
        try:
            needs.forward_need(conn, who.staff, need)
        except needs.ReferralError as exc:
            raise Refused(400, refused, tr(exc.msgid, request), back=back) from exc
    return console.redirect(request, who, with_done(back, "need_forwarded"))


@router.post("/insight/needs/handled")
def referral_handled(
    request: Request,
    console: ConsoleDep,
    who: PostedAdmin,
    *,
    referral: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """A need the county forwarded, marked handled by an administrator of its township."""
    to = safe_back(back, PREFIX + "/insight/needs")
    try:
        with console.db.write() as conn:
            needs.handle_referral(conn, who.staff, referral)
    except needs.ReferralError as exc:
        raise Refused(400, tr(N_("Not marked as handled"), request), tr(exc.msgid, request), back=to) from exc
    return console.redirect(request, who, with_done(to, "need_handled"))


@router.get("/insight/export")
def export_page(request: Request, console: ConsoleDep, who: FiguresAdmin, *, township: str = "") -> Response:
    with console.db.read() as conn:
        context = export_context(conn, request, who.staff.scope, township=township, today=who.today())
    return _page(
        console,
        request,
        who,
        "insight_export.html",
        context,
        title=tr(N_("Evaluation export"), request),
        tab="export",
    )


FORMATS: dict[str, tuple[str, str, Callable[[evaluation.Evaluation, Any], None]]] = {
    "csv": ("text/csv; charset=utf-8", "csv", evaluation.write_csv),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
        evaluation.write_xlsx,
    ),
    "dictionary": ("text/csv; charset=utf-8", "csv", evaluation.write_dictionary_csv),
}


@router.post("/insight/export")
def export_download(
    request: Request,
    console: ConsoleDep,
    who: PostedFiguresAdmin,
    *,
    start: Annotated[str, Form()] = "",
    end: Annotated[str, Form()] = "",
    township: Annotated[str, Form()] = "",
    format: Annotated[str, Form()] = "csv",
) -> Response:
    """The anonymised evaluation data set of the period as a file; every download is in the staff-actions trail."""
    kind = _choice(format, tuple(FORMATS), "csv")
    today = who.today()
    first = parse_day(start, today - dt.timedelta(days=90))
    last = parse_day(end, today)
    if first > last:
        first, last = last, first
    error = ""
    if (last - first).days >= MAX_EXPORT_DAYS:
        error = tr(N_("Please choose a period of at most {days} days."), request, days=MAX_EXPORT_DAYS)
    with console.db.read() as conn:
        shown, _everyone = _scoped(conn, request, who.staff.scope, township)
        data = evaluation.evaluation_data(conn, shown, first, last) if not error else None
    if data is not None and kind == "xlsx" and len(data.rows) > XLSX_MAX_ROWS:
        error = tr(
            N_("Too many rows for a spreadsheet: please download CSV or choose a shorter period."), request
        )
    if data is None or error:
        with console.db.read() as conn:
            context = export_context(conn, request, who.staff.scope, township=township, today=today)
        context.update(start=first.isoformat(), end=last.isoformat(), error=error)
        response = _page(
            console,
            request,
            who,
            "insight_export.html",
            context,
            title=tr(N_("Evaluation export"), request),
            tab="export",
        )
        response.status_code = 400
        return response
    out = io.BytesIO()
    media, suffix, write = FORMATS[kind]
    write(data, out)
    with console.db.write() as conn:
        services.record(
            conn,
            who.staff.id,
            "evaluation_exported",
            kind,
            start=first.isoformat(),
            end=last.isoformat(),
            scope=f"{shown.level}:{shown.id}",
            rows=len(data.rows),
        )
    name = "dictionary" if kind == "dictionary" else "evaluation"
    filename = f"cunzhan-{name}-{first.isoformat()}-{last.isoformat()}.{suffix}"
    response = Response(
        out.getvalue(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
    console.keeper.write(request, response, who.session)
    return response
