"""Reports: bookings and attendance by service or village, satisfaction, and the CSV download."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from cunzhan.i18n import N_
from township.console import queries
from township.console.charts import Bar, bar_chart
from township.console.deps import PREFIX, ConsoleDep, SignedIn, Who, parse_day
from township.console.web import tr

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _period(who: Who, start: str, end: str) -> tuple[dt.date, dt.date]:
    """The local days asked for; the last 30 days of the township by default."""
    last = parse_day(end, who.today())
    first = parse_day(start, last - dt.timedelta(days=29))
    if first > last:
        first, last = last, first
    return first, last


def _grouping(by: str) -> str:
    return by if by in ("service", "village") else "service"


@router.get("/reports")
def reports(
    request: Request,
    console: ConsoleDep,
    who: SignedIn,
    *,
    start: str = "",
    end: str = "",
    by: str = "service",
) -> Response:
    tid = who.staff.township_id
    first, last = _period(who, start, end)
    by = _grouping(by)
    with console.db.read() as conn:
        rows = queries.report(conn, tid, first, last, by, zone=who.zone)
        ratings = queries.satisfaction(conn, tid, first, last, zone=who.zone)
        reasons = queries.feedback_reasons(conn, tid, first, last, zone=who.zone)
    unknown = tr(N_("(not given)"), request)
    chart = bar_chart(
        [Bar(r.label or unknown, r.bookings, str(r.bookings)) for r in rows],
        title=tr(N_("Bookings"), request),
        width=560,
        label_width=200,
    )
    attendance_chart = bar_chart(
        [
            Bar(
                r.label or unknown,
                100 * (r.attendance_rate or 0),
                f"{100 * r.attendance_rate:.0f}% ({r.attended}/{r.decided})"
                if r.attendance_rate is not None
                else tr(N_("no outcomes yet"), request),
            )
            for r in rows
        ],
        title=tr(N_("Attendance rate"), request),
        width=560,
        label_width=200,
        maximum=100,
    )
    rating_chart = bar_chart(
        [
            Bar(str(i + 1) + "★", n, str(n))
            for i, n in enumerate([sum(r["histogram"][i] for r in ratings) for i in range(5)])
        ],
        title=tr(N_("Ratings given"), request),
        width=480,
        label_width=80,
    )
    return console.page(
        request,
        who,
        "reports.html",
        {
            "rows": rows,
            "ratings": ratings,
            "reasons": reasons,
            "start": first.isoformat(),
            "end": last.isoformat(),
            "by": by,
            "chart": chart,
            "attendance_chart": attendance_chart,
            "rating_chart": rating_chart,
            "unknown": unknown,
        },
        title=tr(N_("Reports"), request),
        nav="reports",
    )


def _csv_safe(text: str) -> str:
    """Stop spreadsheet formula injection: a cell starting with = + - @, a tab or a carriage return (spreadsheets
    skip those and read what follows as a formula) is prefixed with an apostrophe."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\n") else text


@router.get("/reports.csv")
def reports_csv(
    request: Request,
    console: ConsoleDep,
    who: SignedIn,
    *,
    start: str = "",
    end: str = "",
    by: str = "service",
) -> Response:
    first, last = _period(who, start, end)
    by = _grouping(by)
    with console.db.read() as conn:
        rows = queries.report(conn, who.staff.township_id, first, last, by, zone=who.zone)

    def lines() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        # A BOM so that Excel on the hall's PC opens the Chinese text correctly.
        out.write("\ufeff")
        writer.writerow(
            [
                tr(N_("Service") if by == "service" else N_("Village"), request),
                tr(N_("Bookings"), request),
                tr(N_("Attended"), request),
                tr(N_("No-show"), request),
                tr(N_("Cancelled or rejected"), request),
                tr(N_("Attendance rate"), request),
                tr(N_("No-show rate"), request),
            ]
        )
        for r in rows:
            writer.writerow(
                [
                    _csv_safe(r.label),
                    r.bookings,
                    r.attended,
                    r.no_show,
                    r.cancelled,
                    "" if r.attendance_rate is None else f"{r.attendance_rate:.3f}",
                    "" if r.no_show_rate is None else f"{r.no_show_rate:.3f}",
                ]
            )
        yield out.getvalue()

    filename = f"cunzhan-report-{by}-{first.isoformat()}-{last.isoformat()}.csv"
    response = StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
    console.keeper.write(request, response, who.session)
    return response
