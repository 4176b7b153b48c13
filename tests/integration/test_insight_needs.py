"""Unmet demand, the needs profile and the satisfaction index (issue 18, township.insight). Both databases, fixed
dates (tests/integration/insight_world.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration.conftest import Backend
from tests.integration.insight_world import W1, W2, World, at, build

pytestmark = pytest.mark.usefixtures("keyring_ready")

THURSDAY = W2 + dt.timedelta(days=3)


@pytest.fixture(scope="module")
def world(any_backend: Backend) -> Iterator[World]:
    from township import db
    from township.insight.unmet import record_unmet

    built = build(any_backend.database)
    with any_backend.database.write() as conn:

        def session(label: str) -> Any:
            return conn.execute(sa.select(db.sessions).where(db.sessions.c.id == built.session[label])).one()

        for _ in range(2):
            record_unmet(conn, built.a, "slot_full", village="上坪村", session=session("a1"))
        record_unmet(conn, built.a, "waitlisted", village="上坪村", session=session("a1"))
        record_unmet(
            conn,
            built.a,
            "no_session",
            village="上坪村",
            service_id=built.service["慢病随访"],
            wanted_at=at(W2 + dt.timedelta(days=1), 8),  # Tuesday morning of W2
        )
        record_unmet(conn, built.a, "slot_full", village="河口村", session=session("a2"))
        for _ in range(5):
            record_unmet(conn, built.b, "slot_full", village="乙村", session=session("b1"))
    yield built


def test_unmet_demand_keeps_no_personal_data_and_local_time(any_backend: Backend, world: World) -> None:
    from township import db
    from township.insight.unmet import record_unmet

    assert set(db.unmet_demand.c.keys()) == {
        "id", "township_id", "village", "service_id", "session_id", "provider_id", "week", "weekday", "band",
        "reason", "at",
    }  # fmt: skip
    with any_backend.database.write() as conn:
        # 07:00 on Tuesday in Asia/Shanghai is still Monday in UTC: the local day counts.
        early = world.add_session(
            conn, "early", world.a, "慢病随访", "李医生", starts=at(W1 + dt.timedelta(days=1), 7)
        )
        late = world.add_session(
            conn, "late", world.a, "课后辅导", "王老师", starts=at(W1 + dt.timedelta(days=6), 23)
        )
        rows = {}
        for label in (early, late, world.session["a2"]):
            row = conn.execute(sa.select(db.sessions).where(db.sessions.c.id == label)).one()
            event = record_unmet(
                conn, world.a, "slot_full", village=" 石桥村 ", session=row, at=at(W1, 10, 37)
            )
            rows[label] = conn.execute(sa.select(db.unmet_demand).where(db.unmet_demand.c.id == event)).one()
        with pytest.raises(ValueError):
            other = conn.execute(sa.select(db.sessions).where(db.sessions.c.id == world.session["b1"])).one()
            record_unmet(conn, world.a, "slot_full", village="上坪村", session=other)
        with pytest.raises(ValueError):
            record_unmet(conn, world.a, "cancelled", village="上坪村", session=other)  # type: ignore[arg-type]
        conn.execute(
            sa.delete(db.unmet_demand).where(db.unmet_demand.c.village == "石桥村")
        )  # leave the world as built
    assert (rows[early].week, rows[early].weekday, rows[early].band) == (W1, 1, "morning")
    assert (rows[late].week, rows[late].weekday, rows[late].band) == (W1, 6, "evening")
    assert (rows[world.session["a2"]].weekday, rows[world.session["a2"]].band) == (2, "afternoon")
    assert rows[early].village == "石桥村"
    assert rows[early].at == at(W1, 10)  # to the hour
    assert rows[early].provider_id == world.provider["李医生"]


def test_needs_profile_ranks_unmet_demand_a_scheduler_can_act_on(any_backend: Backend, world: World) -> None:
    from township.insight.needs import needs_profile
    from township.insight.scope import Scope

    with any_backend.database.read() as conn:
        mine = needs_profile(conn, Scope.township(world.a), weeks=4, today=THURSDAY)
        county = needs_profile(conn, Scope.county(world.county), weeks=4, today=THURSDAY)
        this_week = needs_profile(conn, Scope.township(world.a), weeks=1, today=THURSDAY)
    top = mine[0]
    assert (top.village, top.service, top.weekday, top.band) == ("上坪村", "慢病随访", 1, "morning")
    assert (top.total, top.slot_full, top.waitlisted, top.no_session, top.weeks_with_demand) == (
        4,
        2,
        1,
        1,
        2,
    )
    assert top.service_id == world.service["慢病随访"] and top.kind == "clinic"
    assert top.provider_id == world.provider["李医生"]
    assert top.suggested_capacity == 2  # 4 over 2 affected weeks
    assert top.start == dt.time(9, 0)
    assert top.next_date == dt.date(2026, 10, 20)  # the Tuesday after Thursday 15 October
    assert top.describe() == "慢病随访, 上坪村, 周二上午: 4 次未约上（4 周内）"
    assert top.describe("en") == "慢病随访, 上坪村, Tuesday mornings: 4 refused in 4 weeks"
    assert [(n.village, n.weekday, n.band, n.total) for n in mine[1:]] == [("河口村", 2, "afternoon", 1)]
    assert {n.township_id for n in mine} == {world.a}  # township B's demand is not A's to see
    assert (county[0].township_id, county[0].village, county[0].total) == (world.b, "乙村", 5)
    assert [(n.village, n.total) for n in this_week] == [("上坪村", 1), ("河口村", 1)]


def test_satisfaction_index_and_low_ratings(any_backend: Backend, world: World) -> None:
    from township.insight.satisfaction import low_ratings, satisfaction_index
    from township.insight.scope import Scope

    mine = Scope.township(world.a)
    with any_backend.database.read() as conn:
        by_service = {x.label: x for x in satisfaction_index(conn, mine, "service", weeks=2, today=THURSDAY)}
        by_village = {x.label: x for x in satisfaction_index(conn, mine, "village", weeks=2, today=THURSDAY)}
        by_provider = {
            x.label: x for x in satisfaction_index(conn, mine, "provider", weeks=2, today=THURSDAY)
        }
        low = low_ratings(conn, mine, since=at(W1, 0))
        county_low = low_ratings(conn, Scope.county(world.county), since=at(W1, 0))
        recent = low_ratings(conn, mine, since=at(W2, 0))
    chronic = by_service["慢病随访"]
    assert (chronic.ratings, chronic.mean, chronic.index, chronic.low_ratings) == (4, 3.0, 50.0, 2)
    assert chronic.small_sample
    assert (by_service["课后辅导"].ratings, by_service["课后辅导"].mean) == (1, 3.0)
    assert (by_village["上坪村"].ratings, by_village["上坪村"].mean) == (4, 2.75)
    assert (by_village["河口村"].ratings, by_village["河口村"].mean) == (1, 4.0)
    assert (by_provider["王老师"].ratings, by_provider["李医生"].ratings) == (1, 4)
    assert [(x.booking_id, x.rating, x.reasons, x.comment) for x in low] == [
        (world.booking["a2-0"], 2, ["The sound was hard to hear"], None),
        (world.booking["a1-1"], 1, ["I waited too long", "自由文本理由"], "医生迟到了一个小时"),
    ]
    assert (low[1].village, low[1].service, low[1].provider, low[1].day) == (
        "上坪村", "慢病随访", "李医生", W1 + dt.timedelta(days=1),
    )  # fmt: skip
    assert len(county_low) == 3 and county_low[1].township == "乙镇"
    assert [x.booking_id for x in recent] == [world.booking["a2-0"]]


def test_a_full_session_refused_through_sync_counts_as_unmet_demand(any_backend: Backend) -> None:
    """The push path records refusals and waitlistings (township/sync.py), without the resident's data."""
    import sqlalchemy as sa

    from township import db

    kiosk = any_backend.enroll()
    session = any_backend.new_session(capacity=1)
    assert kiosk.book(session)["outcome"] == "applied"
    assert kiosk.book(session)["reason"] == "slot_full"
    assert kiosk.book(session, waitlist=True)["outcome"] == "applied"
    with any_backend.database.read() as conn:
        rows = conn.execute(sa.select(db.unmet_demand).where(db.unmet_demand.c.session_id == session)).all()
    assert sorted(r.reason for r in rows) == ["slot_full", "waitlisted"]
    assert {r.village for r in rows} == {"上坪村"}
    assert "测试居民" not in str([tuple(r) for r in rows])
