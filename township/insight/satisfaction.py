"""Satisfaction, the core indicator: an index per service, provider or village with its sample size, and the low
ratings (1–2) listed for follow-up with the reasons given.

The index is the mean rating (1–5) and the same on a 0–100 scale ((mean − 1) / 4 × 100), over the ratings of
sessions in the period, read from the dashboard's figures (rollup + live, `township.insight.dashboard`). A mean
over fewer than `MIN_SAMPLE` ratings is flagged `small_sample`: shown, but not to be ranked on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from township import db, keys
from township.insight.dashboard import totals
from township.insight.scope import Scope, local, towns

MIN_SAMPLE = 10
LOW = 2  # ratings at or below this are followed up


@dataclass(frozen=True, slots=True)
class Index:
    """The satisfaction of one service, provider or village (of one township) over a period."""

    township_id: str
    township: str
    key: str
    label: str
    ratings: int  # the sample size
    mean: float | None
    index: float | None  # 0–100
    low_ratings: int

    @property
    def small_sample(self) -> bool:
        return self.ratings < MIN_SAMPLE


def satisfaction_index(
    conn: Connection,
    scope: Scope,
    by: Literal["service", "provider", "village", "township"] = "service",
    *,
    weeks: int = 12,
    today: dt.date | None = None,
) -> list[Index]:
    """The index per `by` over the last `weeks` weeks, best first (small samples last); rows without a rating are
    left out."""
    out = []
    for row in totals(conn, scope, by, weeks=weeks, today=today):
        fig = row.figures
        if not fig.ratings:
            continue
        mean = fig.rating_mean
        out.append(
            Index(
                row.township_id,
                row.township,
                row.key,
                row.label,
                fig.ratings,
                mean,
                None if mean is None else round((mean - 1) / 4 * 100, 1),
                fig.low_ratings,
            )
        )
    out.sort(key=lambda x: (x.small_sample, -(x.index or 0), x.township, x.label))
    return out


@dataclass(frozen=True, slots=True)
class LowRating:
    """A rating of 1–2 to follow up: where and what, the fixed reasons ticked and the resident's comment (shown to
    the township's staff only; never exported). `booking_id` links to the booking page."""

    feedback_id: str
    booking_id: str
    township_id: str
    township: str
    day: dt.date  # the session's local day
    village: str
    service: str
    provider: str
    rating: int
    reasons: list[str]
    comment: str | None


def low_ratings(
    conn: Connection, scope: Scope, *, since: dt.datetime, limit: int = 200, with_comment: bool = True
) -> list[LowRating]:
    """Ratings of 1–2 given since `since` in the scope's townships, newest first."""
    covered = {t.id: t for t in towns(conn, scope)}
    if not covered:
        return []
    f, b, s, sv, p, r = db.feedback, db.bookings, db.sessions, db.services, db.providers, db.residents
    query = (
        sa.select(
            f.c.id,
            f.c.booking_id,
            f.c.township_id,
            f.c.rating,
            f.c.reasons,
            f.c.comment,
            s.c.starts_at,
            sv.c.name.label("service"),
            p.c.name.label("provider"),
            sa.func.coalesce(b.c.contact_village, r.c.village, "").label("village"),
        )
        .select_from(
            f.join(b, b.c.id == f.c.booking_id)
            .join(s, s.c.id == b.c.session_id)
            .join(sv, sv.c.id == s.c.service_id)
            .join(p, p.c.id == s.c.provider_id)
            .outerjoin(r, r.c.id == b.c.resident_id)
        )
        .where(f.c.township_id.in_(list(covered)), f.c.created_at >= db.naive(since), f.c.rating <= LOW)
        .order_by(f.c.created_at.desc(), f.c.id)
        .limit(limit)
    )
    out = []
    for row in conn.execute(query):
        town = covered[str(row.township_id)]
        out.append(
            LowRating(
                str(row.id),
                str(row.booking_id),
                town.id,
                town.name,
                local(row.starts_at, town.tz).date(),
                str(row.village),
                str(row.service),
                str(row.provider),
                int(row.rating),
                _reasons(row.reasons),
                keys.open_comment(conn, str(row.id), row.comment) if with_comment else None,
            )
        )
    return out


def _reasons(value: Any) -> list[str]:
    return [str(x) for x in value] if isinstance(value, list) else []
