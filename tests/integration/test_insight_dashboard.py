"""The county dashboard (issue 18, township.insight): scopes keep a township to its own rows; the weekly figures are
exact; weeks rolled up read the same as counted live, and read the rollup until it is refreshed. Both databases;
fixed dates (tests/integration/insight_world.py), so nothing depends on today or the time of day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

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
        a1 = conn.execute(sa.select(db.sessions).where(db.sessions.c.id == built.session["a1"])).one()
        for _ in range(2):
            record_unmet(conn, built.a, "slot_full", village="上坪村", session=a1)
        record_unmet(conn, built.a, "waitlisted", village="上坪村", session=a1)  # not a refusal
    yield built


def _table(rows: list) -> dict[tuple[dt.date, str], tuple[int, ...]]:  # type: ignore[type-arg]
    return {
        (r.week, r.label): (
            r.figures.bookings,
            r.figures.attended,
            r.figures.no_show,
            r.figures.waitlisted,
            r.figures.refused,
            r.figures.ratings,
            r.figures.rating_sum,
            r.figures.low_ratings,
        )
        for r in rows
    }


def test_a_township_account_sees_only_its_own_township(any_backend: Backend, world: World) -> None:
    from township.insight.dashboard import weekly
    from township.insight.satisfaction import low_ratings
    from township.insight.scope import OutOfScope, Scope, narrow, township_ids

    with any_backend.database.read() as conn:
        county = Scope.county(world.county)
        assert sorted(township_ids(conn, county)) == sorted([world.a, world.b])  # not the demo township
        mine = Scope.township(world.a)
        for by in ("township", "village", "service", "provider"):
            rows = weekly(conn, mine, by, weeks=2, today=THURSDAY)
            assert rows and {r.township_id for r in rows} == {world.a}, by
            both = weekly(conn, county, by, weeks=2, today=THURSDAY)
            assert {r.township_id for r in both} == {world.a, world.b}, by
        assert all(r.township_id == world.a for r in low_ratings(conn, mine, since=at(W1, 0)))
        assert "乙镇的评论" not in [r.comment for r in low_ratings(conn, mine, since=at(W1, 0))]
        assert "乙镇的评论" in [r.comment for r in low_ratings(conn, county, since=at(W1, 0))]
        assert narrow(conn, county, world.b) == Scope.township(world.b)
        with pytest.raises(OutOfScope):
            narrow(conn, mine, world.b)  # a township account asking for its neighbour
        with pytest.raises(OutOfScope):
            narrow(conn, county, any_backend.township_id())  # a township outside the county
        with pytest.raises(OutOfScope):
            weekly(conn, Scope.county("no-such-county"), weeks=2, today=THURSDAY)


def test_weekly_figures_by_township_village_service_and_provider(any_backend: Backend, world: World) -> None:
    from township.insight.dashboard import weekly
    from township.insight.scope import Scope

    county = Scope.county(world.county)
    with any_backend.database.read() as conn:
        by_town = _table(weekly(conn, county, "township", weeks=2, today=THURSDAY))
        by_village = _table(weekly(conn, Scope.township(world.a), "village", weeks=2, today=THURSDAY))
        by_service = _table(weekly(conn, county, "service", weeks=2, today=THURSDAY))
        by_provider = weekly(conn, county, "provider", weeks=2, today=THURSDAY)
    # (bookings, attended, no_show, waitlisted, refused, ratings, rating_sum, low_ratings)
    assert by_town == {
        (W1, "甲镇"): (4, 3, 1, 1, 2, 3, 10, 1),
        (W1, "乙镇"): (1, 0, 1, 0, 0, 1, 1, 1),
        (W2, "甲镇"): (3, 1, 0, 0, 0, 2, 5, 1),
    }
    assert by_village == {
        (W1, "上坪村"): (3, 2, 1, 1, 2, 2, 6, 1),
        (W1, "河口村"): (1, 1, 0, 0, 0, 1, 4, 0),
        (W2, "上坪村"): (2, 1, 0, 0, 0, 2, 5, 1),
        (W2, "河口村"): (1, 0, 0, 0, 0, 0, 0, 0),
    }
    assert by_service[(W2, "课后辅导")] == (1, 1, 0, 0, 0, 1, 3, 0)
    assert by_service[(W1, "慢病随访")] == (4, 3, 1, 1, 2, 3, 10, 1)
    first = next(r for r in by_provider if r.week == W1 and r.label == "李医生")
    assert first.figures.no_show_rate == pytest.approx(1 / 4)
    assert first.figures.rating_mean == pytest.approx(10 / 3)
    second = next(r for r in by_provider if r.week == W2 and r.label == "李医生")
    assert second.figures.no_show_rate is None  # nothing decided yet: no rate, not 0


def test_rolled_up_weeks_read_the_same_and_come_from_the_rollup(any_backend: Backend, world: World) -> None:
    from township import db
    from township.insight.dashboard import refresh_closed_weeks, refresh_week, week_facts, weekly
    from township.insight.scope import Scope, towns, week_bounds

    database = any_backend.database
    county = Scope.county(world.county)
    with database.read() as conn:
        live = {
            by: _table(weekly(conn, county, by, weeks=2, today=THURSDAY)) for by in ("township", "village")
        }
    # Thursday of W2: W1 is over, W2 is not: only W1 is rolled up (for both townships).
    assert refresh_closed_weeks(database, now=db.utc(at(THURSDAY, 12))) >= 2
    with database.read() as conn:
        marks = set(
            conn.execute(
                sa.select(db.insight_weeks.c.township_id, db.insight_weeks.c.week).where(
                    db.insight_weeks.c.township_id.in_([world.a, world.b])
                )
            ).all()
        )
    assert marks == {(world.a, W1), (world.b, W1)}
    # A week after W2 ended (plus the day's wait): W2 too; W1 again (it ended within the settling period).
    later = db.utc(at(W2 + dt.timedelta(days=8), 12))
    assert refresh_closed_weeks(database, now=later) >= 3
    with database.read() as conn:
        rolled = {
            by: _table(weekly(conn, county, by, weeks=2, today=THURSDAY)) for by in ("township", "village")
        }
        assert (
            conn.execute(
                sa.select(sa.func.count())
                .select_from(db.insight_weekly)
                .where(db.insight_weekly.c.township_id == world.a)
            ).scalar_one()
            == 5
        )  # village × service × provider × week
    assert rolled == live

    # A late no-show in W1: the page keeps reading the rollup until W1 is refreshed.
    with database.write() as conn:
        world.add_resident(conn, "late", world.a, "上坪村")
        world.add_booking(conn, "late", "a1", "late", "no_show")
    with database.read() as conn:
        assert _table(weekly(conn, county, "township", weeks=2, today=THURSDAY)) == live["township"]
        town = next(t for t in towns(conn, county) if t.id == world.a)
        counted = week_facts(conn, [world.a], W1, week_bounds(W1, town.tz))
        assert sum(f.figures.no_show for f in counted) == 2
    with database.write() as conn:
        refresh_week(conn, town, W1)
    with database.read() as conn:
        after = _table(weekly(conn, county, "township", weeks=2, today=THURSDAY))
    assert after[(W1, "甲镇")] == (5, 3, 2, 1, 2, 3, 10, 1)
    assert after[(W2, "甲镇")] == live["township"][(W2, "甲镇")]
    # Long after: settled weeks are not recomputed.
    with database.write() as conn:
        world.add_booking(conn, "later", "a1", "late", "attended")
    w1_mark = sa.select(db.insight_weeks.c.refreshed_at).where(
        db.insight_weeks.c.township_id == world.a, db.insight_weeks.c.week == W1
    )
    with database.read() as conn:
        before = conn.execute(w1_mark).scalar_one()
    refresh_closed_weeks(database, now=later + dt.timedelta(weeks=6))  # rolls up the empty weeks since W2
    with database.read() as conn:
        assert conn.execute(w1_mark).scalar_one() == before
    with database.read() as conn:
        assert _table(weekly(conn, county, "township", weeks=2, today=THURSDAY))[(W1, "甲镇")][0] == 5


def test_weeks_not_over_are_rolled_up_every_few_minutes_and_say_when(
    any_backend: Backend, world: World
) -> None:
    from township import db
    from township.insight.dashboard import refresh_open_weeks, weekly
    from township.insight.scope import Scope

    database = any_backend.database
    county = Scope.county(world.county)
    with database.read() as conn:
        live = weekly(conn, county, "village", weeks=2, today=THURSDAY)
    noon = db.utc(at(THURSDAY, 12))
    assert refresh_open_weeks(database, now=noon) >= 2 * 5  # W2 and the four weeks after it, each township
    with database.read() as conn:
        rolled = weekly(conn, county, "village", weeks=2, today=THURSDAY)
        ahead = conn.execute(
            sa.select(db.insight_weeks.c.refreshed_at).where(
                db.insight_weeks.c.township_id == world.b,
                db.insight_weeks.c.week == W2 + dt.timedelta(weeks=4),
            )
        ).scalar_one()
    assert db.utc(ahead) == noon
    assert [(r.week, r.key, r.figures) for r in rolled if r.week == W2] == [
        (r.week, r.key, r.figures) for r in live if r.week == W2
    ]
    assert {r.as_of for r in rolled if r.week == W2} == {noon}
