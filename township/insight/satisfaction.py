"""Satisfaction, the core indicator: an index per service, provider or village with its sample size, and the low
ratings (1–2) listed for follow-up with the reasons given, which the township's staff mark as followed up (who,
when, a short note sealed like the resident's comment, `follow_up`).

Who reads what: the resident's free-text comment and staff's note may name a person or an illness, so they are
opened for the township's own staff only; a county account sees the ratings, the reasons ticked and whether (by
whom, when) each was followed up, never the comment or the note (`low_ratings(with_comment=False)`).

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

from cunzhan.i18n import N_
from township import db, keys
from township.insight.dashboard import totals
from township.insight.scope import Scope, local, towns
from township.services import StaffUser, audit_row

MIN_SAMPLE = 10
LOW = 2  # ratings at or below this are followed up
NOTE_MAX = 200  # characters of a follow-up note


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
    the township's staff only; never exported), and its follow-up (the note likewise). `booking_id` links to the
    booking page."""

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
    followed_up_at: dt.datetime | None = None
    followed_up_by: str | None = None
    note: str | None = None  # None as well when not opened (`with_comment=False`)


def low_ratings(
    conn: Connection,
    scope: Scope,
    *,
    since: dt.datetime,
    limit: int = 200,
    with_comment: bool = True,
    followed_up: bool = False,
) -> list[LowRating]:
    """Ratings of 1–2 given since `since` in the scope's townships: those not followed up, newest first, then (with
    `followed_up`) those followed up, newest first. The comment and the note are opened `with_comment` only."""
    covered = {t.id: t for t in towns(conn, scope)}
    if not covered:
        return []
    f, b, s, sv, p, r = db.feedback, db.bookings, db.sessions, db.services, db.providers, db.residents
    # The page's rows are picked on `feedback` alone, then joined: sorting the wide joined rows of a county over
    # 26 weeks (tens of thousands of low ratings) spilled to disk (190 ms); this is a top-N sort of narrow rows.
    # The joins drop nothing (every key they follow is a non-null foreign key), so the rows are the same.
    unfollowed = sa.case((f.c.followed_up_at.is_(None), 0), else_=1)
    picked = (
        sa.select(f.c.id, unfollowed.label("later"), f.c.created_at)
        .where(
            f.c.township_id.in_(list(covered)),
            f.c.created_at >= db.naive(since),
            f.c.rating <= LOW,
            sa.true() if followed_up else f.c.followed_up_at.is_(None),
        )
        .order_by(unfollowed, f.c.created_at.desc(), f.c.id)
        .limit(limit)
        .subquery("picked")
    )
    query = (
        sa.select(
            f.c.id,
            f.c.booking_id,
            f.c.township_id,
            f.c.rating,
            f.c.reasons,
            f.c.comment,
            f.c.followed_up_at,
            f.c.followed_up_by,
            f.c.follow_up_note,
            s.c.starts_at,
            sv.c.name.label("service"),
            p.c.name.label("provider"),
            sa.func.coalesce(b.c.contact_village, r.c.village, "").label("village"),
        )
        .select_from(
            picked.join(f, f.c.id == picked.c.id)
            .join(b, b.c.id == f.c.booking_id)
            .join(s, s.c.id == b.c.session_id)
            .join(sv, sv.c.id == s.c.service_id)
            .join(p, p.c.id == s.c.provider_id)
            .outerjoin(r, r.c.id == b.c.resident_id)
        )
        .order_by(picked.c.later, picked.c.created_at.desc(), picked.c.id)
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
                None if row.followed_up_at is None else db.utc(row.followed_up_at),
                row.followed_up_by,
                keys.open_note(conn, str(row.id), row.follow_up_note) if with_comment else None,
            )
        )
    return out


class FollowUpError(LookupError):
    """A follow-up that cannot be recorded; `msgid` says why (in the staff member's language on the page)."""

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params


ERR_NOT_LOW_RATING = N_("This low rating does not exist or is not your township's.")
ERR_ALREADY_FOLLOWED_UP = N_("This low rating was already marked as followed up.")
ERR_NOTE_TOO_LONG = N_("Please keep the note to at most {n} characters.")


def follow_up(
    conn: Connection, staff: StaffUser, feedback_id: str, note: str, *, now: dt.datetime | None = None
) -> None:
    """Mark a low rating of the staff member's own township as followed up, with an optional short note (sealed),
    in the caller's write transaction; audited as `rating_followed_up` (the rating, whether there is a note; never
    the note). Administrators and reviewers only; once (a second mark, even at the same moment, is refused)."""
    note = " ".join(note.split())
    if len(note) > NOTE_MAX:
        raise FollowUpError(ERR_NOTE_TOO_LONG, n=NOTE_MAX)
    f = db.feedback
    row = conn.execute(
        sa.select(f.c.id, f.c.rating, f.c.followed_up_at).where(
            f.c.id == feedback_id, f.c.township_id == staff.township_id, f.c.rating <= LOW
        )
    ).first()
    if row is None or not staff.reads_township:
        raise FollowUpError(ERR_NOT_LOW_RATING)
    moment = db.naive(now or db.now_utc())
    done = conn.execute(
        sa.update(f)
        .where(f.c.id == feedback_id, f.c.followed_up_at.is_(None))
        .values(
            followed_up_at=moment,
            followed_up_by=staff.username,
            follow_up_note=keys.seal_note(conn, feedback_id, note),
        )
    ).rowcount
    if done != 1:
        raise FollowUpError(ERR_ALREADY_FOLLOWED_UP)
    audit_row(
        conn,
        staff.township_id,
        staff.username,
        "rating_followed_up",
        feedback_id,
        staff_id=staff.id,
        at=moment,
        rating=int(row.rating),
        note=bool(note),
    )


def _reasons(value: Any) -> list[str]:
    return [str(x) for x in value] if isinstance(value, list) else []
