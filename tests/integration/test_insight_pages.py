"""The county's view in the console (#18) against a real backend, on SQLite and PostgreSQL: the dashboard, the
satisfaction page, the needs profile and the evaluation export show the figures of the account's scope and nothing
else; a township outside it is refused; the needs profile's link fills in the schedule's create form; the export
is an administrator's, anonymised, and audited. A county scope (no console account can be a county one yet) is
tested through the same page functions the routes call."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.requests import Request

from tests.browser.console_client import STAFF_PASSWORD, ConsoleClient
from tests.integration.conftest import Backend
from tests.integration.insight_world import W1, W2, World, build
from township import db

pytestmark = pytest.mark.usefixtures("keyring_ready")

UNTIL = (W2 + dt.timedelta(days=6)).isoformat()  # the Sunday of W2: W1 and W2 are the last two weeks shown


@pytest.fixture(scope="module")
def world(any_backend: Backend) -> Iterator[World]:
    from township import db
    from township.insight.unmet import record_unmet

    built = build(any_backend.database)
    with any_backend.database.write() as conn:
        a1 = conn.execute(sa.select(db.sessions).where(db.sessions.c.id == built.session["a1"])).one()
        for _ in range(3):
            record_unmet(
                conn, built.a, "slot_full", village="上坪村", session=a1, at=dt.datetime(2026, 10, 6, 1)
            )
        b1 = conn.execute(sa.select(db.sessions).where(db.sessions.c.id == built.session["b1"])).one()
        record_unmet(conn, built.b, "slot_full", village="乙村", session=b1, at=dt.datetime(2026, 10, 6, 2))
    any_backend.create_staff("jia_admin", "admin", STAFF_PASSWORD, township="insight-a")
    any_backend.create_staff("jia_shenhe", "reviewer", STAFF_PASSWORD, township="insight-a")
    yield built


def _client(backend: Backend, username: str, lang: str = "en") -> ConsoleClient:
    client = ConsoleClient(backend.url, lang=lang)
    assert client.sign_in(username, township="insight-a").status_code == 200
    return client


@pytest.fixture
def admin(any_backend: Backend, world: World) -> ConsoleClient:
    return _client(any_backend, "jia_admin")


@pytest.fixture
def reviewer(any_backend: Backend, world: World) -> ConsoleClient:
    return _client(any_backend, "jia_shenhe")


def _request(lang: str = "en") -> Request:
    """A console request as the page functions see it (its language cookie is all they read)."""
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/console/insight",
            "query_string": b"",
            "headers": [(b"cookie", f"cz_lang={lang}".encode())],
        }
    )


def _cells(html: str) -> list[list[str]]:
    """The rows of every table on a page, as lists of cell texts."""
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S):
        rows.append(
            [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        )
    return rows


def test_the_dashboard_shows_the_township_week_by_week(admin: ConsoleClient, world: World) -> None:
    page = admin.get(f"/console/insight?until={UNTIL}&weeks=4")
    assert page.status_code == 200
    html = page.text
    assert html.count("<h1>") == 1 and "甲镇" in html and "乙镇" not in html
    assert 'href="/console/insight" aria-current="page"' in html  # the menu's link, current
    charts = re.findall(r'<svg [^>]*role="img"[^>]*>', html)
    assert len(charts) == 5  # four weekly charts and the groups' chart
    assert html.count("<table") == 3
    rows = _cells(html)
    # week, bookings, attended, no-show, no-show rate, waiting list, refused, ratings, mean, low ratings
    assert [W1.isoformat(), "4", "3", "1", "25%", "1", "3", "3", "3.3", "1"] in rows
    assert [W2.isoformat(), "3", "1", "0", "0%", "0", "0", "2", "2.5", "1"] in rows
    # The weekly chart writes its values as text too.
    assert "<desc>" in html and f"{W1:%m-%d}: 4" in html
    by_service = admin.get(f"/console/insight?until={UNTIL}&weeks=4&by=service&figure=attended").text
    matrix = [r for r in _cells(by_service) if len(r) == 5 and r[0] in ("慢病随访", "课后辅导")]
    assert ["慢病随访", "0", "0", "3", "0"] in matrix  # attended per week: W1 3, W2 0
    assert ["课后辅导", "0", "0", "0", "1"] in matrix


def test_a_township_outside_the_scope_is_refused(admin: ConsoleClient, world: World) -> None:
    for path in ("/console/insight", "/console/insight/satisfaction", "/console/insight/needs"):
        refused = admin.get(f"{path}?township={world.b}&until={UNTIL}")
        assert refused.status_code == 403, path
        assert "乙镇" not in refused.text and "乙村" not in refused.text
        assert admin.get(f"{path}?township={world.a}&until={UNTIL}").status_code == 200


def test_the_county_scope_shows_every_township_and_narrows_to_one(any_backend: Backend, world: World) -> None:
    from township.console.deps import Refused
    from township.console.routes.insight import dashboard_context, needs_context, satisfaction_context
    from township.console.web import render_text
    from township.insight.scope import Scope

    county = Scope.county(world.county)
    request = _request()
    today = W2 + dt.timedelta(days=6)
    with any_backend.database.read() as conn:
        whole = dashboard_context(conn, request, county, until=UNTIL, weeks="4", today=today)
        assert whole["county_wide"] and {t.name for t in whole["towns"]} == {"甲镇", "乙镇"}
        assert {g["label"] for g in whole["by_group"]} == {"甲镇", "乙镇"}
        assert whole["per_week"][W1].bookings == 5 and whole["per_week"][W1].refused == 4
        villages = dashboard_context(conn, request, county, by="village", until=UNTIL, weeks="4", today=today)
        assert {g["label"] for g in villages["by_group"]} >= {"上坪村 · 甲镇", "乙村 · 乙镇"}
        html = render_text(
            request,
            "insight_dashboard.html",
            {**_layout(), **whole, "tabs": [], "title": "Dashboard"},
        )
        assert f'<option value="{world.b}"' in html and "All townships" in html
        only_b = dashboard_context(
            conn, request, county, township=world.b, until=UNTIL, weeks="4", today=today
        )
        assert [g["label"] for g in only_b["by_group"]] == ["乙镇"] and only_b["scope_name"] == "乙镇"
        demo = any_backend.township_id()
        with pytest.raises(Refused):
            dashboard_context(conn, request, county, township=demo, today=today)
        with pytest.raises(Refused):
            satisfaction_context(conn, request, county, township=demo, today=today, home=world.a)
        with pytest.raises(Refused):
            needs_context(conn, request, county, township=demo, today=today, home=world.a, can_schedule=True)
        rated = satisfaction_context(conn, request, county, until=UNTIL, today=today, home=world.a)
        comments = {row["r"].comment: row["link"] for row in rated["low"]}
        # Both townships' low ratings; only the account's own township's link to the booking page.
        assert comments["医生迟到了一个小时"].endswith(world.booking["a1-1"])
        assert comments["乙镇的评论"] == ""
        wanted = needs_context(
            conn, request, county, until=UNTIL, today=today, home=world.a, can_schedule=True
        )
        links = {row["n"].township: row["link"] for row in wanted["needs"]}
        assert links["甲镇"].startswith("/console/sessions/new?") and links["乙镇"] == ""


def test_a_county_administrator_signs_in_to_the_whole_county(any_backend: Backend, world: World) -> None:
    """A real county account (#18 levels): its figures cover both townships, it may export, it is refused a
    township outside the county and a township's own pages; a provider account gets no figures."""
    from township import services

    services.create_county_admin(any_backend.database, "test-county", "xian_tongji", STAFF_PASSWORD)
    county = ConsoleClient(any_backend.url, lang="en")
    signed = county.sign_in("xian_tongji", township="test-county")
    assert signed.status_code == 200
    page = county.get(f"/console/insight?until={UNTIL}&weeks=4")
    assert page.status_code == 200 and "甲镇" in page.text and "乙镇" in page.text
    assert f'<option value="{world.b}"' in page.text
    assert county.get(f"/console/insight?township={any_backend.township_id()}").status_code == 403
    assert county.get("/console/review").status_code == 403
    assert county.get("/console/insight/satisfaction").status_code == 200
    assert county.get("/console/insight/needs").status_code == 200
    assert county.get("/console/insight/export").status_code == 200
    with any_backend.database.read() as conn:
        provider_id = conn.execute(
            sa.select(db.providers.c.id).where(db.providers.c.township_id == world.a)
        ).scalar()
    assert provider_id is not None
    services.create_staff(
        any_backend.database,
        "insight-a",
        "jia_yisheng",
        services.PROVIDER,
        STAFF_PASSWORD,
        provider_id=provider_id,
    )
    doctor = ConsoleClient(any_backend.url, lang="en")
    assert doctor.sign_in("jia_yisheng", township="insight-a").status_code == 200
    assert doctor.get("/console/insight").status_code == 403


def _layout() -> dict[str, Any]:
    """The values the console's layout takes from `Console.page`, for a page rendered without one."""
    return {"me": None, "zone": None, "csrf": "", "nav": "insight", "notice": None, "here": "", "chips": {}}


def test_satisfaction_shows_the_index_and_the_low_ratings_with_comments(
    admin: ConsoleClient, world: World
) -> None:
    html = admin.get(f"/console/insight/satisfaction?until={UNTIL}&weeks=4").text
    rows = _cells(html)
    # 慢病随访: ratings 5, 1, 4, 2 → mean 3.0, index 50; 4 ratings: a small sample.
    assert ["慢病随访", "50", "3.00", "4", "2", "small sample"] in rows
    assert ["课后辅导", "50", "3.00", "1", "0", "small sample"] in rows
    assert "医生迟到了一个小时" in html and "乙镇的评论" not in html
    assert "I waited too long; 自由文本理由" in html
    assert f'href="/console/bookings/{world.booking["a1-1"]}"' in html
    assert len(re.findall(r'<svg [^>]*role="img"', html)) == 1
    chinese = _client_lang(admin, "zh_CN").get(f"/console/insight/satisfaction?until={UNTIL}&weeks=4").text
    assert "等的时间太长" in chinese and "满意度" in chinese


def _client_lang(client: ConsoleClient, lang: str) -> ConsoleClient:
    client.http.cookies.set("cz_lang", lang, path="/console")
    return client


def test_the_needs_profile_links_to_a_filled_in_create_form(
    admin: ConsoleClient, reviewer: ConsoleClient, world: World
) -> None:
    html = admin.get(f"/console/insight/needs?until={UNTIL}").text
    assert "慢病随访, 上坪村, Tuesday mornings: 3 refused in 4 weeks" in html
    links = re.findall(r'href="(/console/sessions/new\?[^"]+)"', html)
    assert len(links) == 1
    form = admin.get(links[0].replace("&amp;", "&")).text
    assert f'<option value="{world.service["慢病随访"]}" selected>' in form
    assert f'<option value="{world.provider["李医生"]}" selected>' in form
    assert 'name="start" value="09:00"' in form and 'name="capacity" value="3"' in form
    assert 'name="repeat_weeks" value="4"' in form
    # A reviewer sees the needs but cannot schedule.
    seen = reviewer.get(f"/console/insight/needs?until={UNTIL}").text
    assert "Tuesday mornings" in seen and "/console/sessions/new?" not in seen
    # Nonsense in the address is not carried into the form.
    junk = admin.get("/console/sessions/new?day=nope&start=<b>&capacity=9999&repeat_weeks=-1").text
    assert 'name="start" value="09:00"' in junk and 'name="capacity" value="6"' in junk and "<b>" not in junk


def test_the_evaluation_export_is_an_administrators_anonymised_and_audited(
    any_backend: Backend, admin: ConsoleClient, reviewer: ConsoleClient, world: World
) -> None:
    from township import db

    assert reviewer.get("/console/insight/export").status_code == 403
    assert "Evaluation export" not in reviewer.get("/console/insight").text
    page = admin.get("/console/insight/export")
    assert page.status_code == 200 and "居民代号 resident" in page.text
    period = {"start": W1.isoformat(), "end": UNTIL}
    assert admin.post("/console/insight/export", {**period, "format": "csv"}, csrf="").status_code == 403
    assert reviewer.post("/console/insight/export", {**period, "format": "csv"}).status_code == 403
    got = admin.post("/console/insight/export", {**period, "format": "csv"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    text = got.content.decode("utf-8-sig")
    assert (
        text.splitlines()[0].startswith("居民代号 resident,") and len(text.splitlines()) == 10
    )  # 9 bookings of A
    assert "乙镇" not in text
    for secret in world.secrets:
        assert secret not in text
    sheet = admin.post("/console/insight/export", {**period, "format": "xlsx"})
    assert sheet.status_code == 200 and sheet.content[:2] == b"PK"
    words = admin.post("/console/insight/export", {**period, "format": "dictionary"})
    assert "Data dictionary" not in words.text and "中文名" in words.content.decode("utf-8-sig")
    too_long = admin.post("/console/insight/export", {"start": "2025-01-01", "end": UNTIL, "format": "csv"})
    assert too_long.status_code == 400 and "at most 366 days" in too_long.text
    assert (
        admin.post("/console/insight/export", {**period, "format": "csv", "township": world.b}).status_code
        == 403
    )
    with any_backend.database.read() as conn:
        trail = conn.execute(
            sa.select(db.staff_audit.c.target, db.staff_audit.c.detail)
            .where(db.staff_audit.c.action == "evaluation_exported")
            .order_by(db.staff_audit.c.id)
        ).all()
    assert [t.target for t in trail] == ["csv", "xlsx", "dictionary"]
    assert trail[0].detail["rows"] == 9 and trail[0].detail["start"] == W1.isoformat()
