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


def test_the_dashboard_shows_the_township_week_by_week(
    any_backend: Backend, admin: ConsoleClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from township.insight import dashboard

    page = admin.get(f"/console/insight?until={UNTIL}&weeks=4")
    assert page.status_code == 200
    # Nothing rolled up yet (as after a first start): counted live, and the page says so.
    assert "still being prepared" in page.text
    # The rollup's first run does the newest weeks first (the ones the pages show), and the note goes.
    done: list[dt.date] = []
    original = dashboard.refresh_week

    def spy(conn: Any, town: Any, week: dt.date, **kw: Any) -> int:
        done.append(week)
        return original(conn, town, week, **kw)

    monkeypatch.setattr(dashboard, "refresh_week", spy)
    assert dashboard.refresh_closed_weeks(any_backend.database) >= 4
    assert W2 in done and W1 in done and done == sorted(done, reverse=True)
    rolled = admin.get(f"/console/insight?until={UNTIL}&weeks=4").text
    assert "still being prepared" not in rolled and _cells(rolled) == _cells(page.text)
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
            satisfaction_context(conn, request, county, township=demo, today=today)
        with pytest.raises(Refused):
            needs_context(conn, request, county, township=demo, today=today, can_schedule=True)
        rated = satisfaction_context(conn, request, county, until=UNTIL, today=today)
        # Both townships' low ratings with their reasons, but neither resident's own words nor a booking link: the
        # comment may name a person or an illness, and it is the township's staff who follow up.
        assert {row["r"].township for row in rated["low"]} == {"甲镇", "乙镇"}
        assert {row["r"].comment for row in rated["low"]} == {None} and not rated["comments"]
        assert {row["link"] for row in rated["low"]} == {""}
        assert "I waited too long" in {x for row in rated["low"] for x in row["reasons"]}
        own = satisfaction_context(conn, request, Scope.township(world.a), until=UNTIL, today=today)
        comments = {row["r"].comment: row["link"] for row in own["low"]}
        assert comments["医生迟到了一个小时"].endswith(world.booking["a1-1"]) and own["comments"]
        # A county account schedules no township's sessions: it forwards the need instead.
        wanted = needs_context(conn, request, county, until=UNTIL, today=today, can_schedule=True)
        assert {row["link"] for row in wanted["needs"]} == {""} and wanted["can_forward"]
        assert {row["n"].township for row in wanted["needs"]} == {"甲镇", "乙镇"}


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
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Shanghai")  # "figures as of" is a time: shown in the zone
    return {"me": None, "zone": zone, "csrf": "", "nav": "insight", "notice": None, "here": "", "chips": {}}


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


@pytest.fixture(scope="module")
def county_admin(any_backend: Backend, world: World) -> ConsoleClient:
    from township import services

    services.create_county_admin(any_backend.database, "test-county", "xian_guanli", STAFF_PASSWORD)
    client = ConsoleClient(any_backend.url, lang="en")
    assert client.sign_in("xian_guanli", township="test-county").status_code == 200
    return client


def _trail(backend: Backend, action: str) -> list[Any]:
    with backend.database.read() as conn:
        rows: list[Any] = conn.execute(
            sa.select(db.staff_audit).where(db.staff_audit.c.action == action).order_by(db.staff_audit.c.id)
        ).all()
    return rows


def _forward_form(html: str, township: str) -> dict[str, str]:
    """The hidden fields of the "Forward to …" form of `township`'s need on the county's needs page."""
    for form in re.findall(
        r'<form method="post" action="/console/insight/needs/forward".*?</form>', html, re.S
    ):
        fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form))
        if fields.get("township") == township:
            fields.pop("csrf_token", None)
            return fields
    raise AssertionError(f"no forward form for {township}")


def test_a_county_administrator_forwards_a_need_to_its_township(
    any_backend: Backend,
    county_admin: ConsoleClient,
    admin: ConsoleClient,
    reviewer: ConsoleClient,
    world: World,
) -> None:
    """The county does not schedule a township's sessions (403 on the create form); it forwards the need, which
    the township's administrators see with "Create sessions" and mark handled; all audited, never outside the
    county."""
    assert county_admin.get("/console/sessions/new").status_code == 403
    page = county_admin.get(f"/console/insight/needs?until={UNTIL}").text
    assert "/console/sessions/new?" not in page and "Forward to 甲镇" in page and "Forward to 乙镇" in page
    form = _forward_form(page, world.a)
    assert form["service"] == world.service["慢病随访"] and form["village"] == "上坪村"
    # Not for a township outside the county (the demo township), not for a need that is not in the profile.
    before = len(_trail(any_backend, "need_forwarded"))
    outside = county_admin.post(
        "/console/insight/needs/forward", {**form, "township": any_backend.township_id()}
    )
    assert outside.status_code == 403
    made_up = county_admin.post("/console/insight/needs/forward", {**form, "weekday": "5"})
    assert made_up.status_code == 400 and "no longer in the needs profile" in made_up.text
    assert admin.post("/console/insight/needs/forward", form).status_code == 403  # a township account
    assert len(_trail(any_backend, "need_forwarded")) == before
    sent = county_admin.post("/console/insight/needs/forward", form)
    assert sent.status_code == 200 and "Forwarded." in sent.text and "Forwarded " in sent.text
    assert (
        county_admin.post("/console/insight/needs/forward", form).status_code == 400
    )  # not twice while open
    trail = _trail(any_backend, "need_forwarded")
    assert len(trail) == before + 1
    entry = trail[-1]
    assert entry.township_id == world.a and entry.county_id == world.county and entry.who == "xian_guanli"
    assert entry.detail["total"] == 3 and entry.detail["village"] == "上坪村"
    # The township's administrator: a tile on the start page, the need on the needs page with its one click.
    assert "needs forwarded by the county" in admin.get("/console/").text
    mine = admin.get(f"/console/insight/needs?until={UNTIL}").text
    assert "Forwarded by the county" in mine and "by xian_guanli" in mine
    section = mine.split('id="referred-heading"')[1].split("</section>")[0]
    link = re.findall(r'href="(/console/sessions/new\?[^"]+)"', section)
    assert len(link) == 1
    filled = admin.get(link[0].replace("&amp;", "&")).text
    assert f'<option value="{world.service["慢病随访"]}" selected>' in filled
    referral = re.search(r'name="referral" value="([^"]+)"', section)
    assert referral is not None
    # A reviewer sees it, cannot mark it; an administrator does, once.
    seen = reviewer.get(f"/console/insight/needs?until={UNTIL}").text
    assert "Forwarded by the county" in seen and 'name="referral"' not in seen
    assert reviewer.post("/console/insight/needs/handled", {"referral": referral.group(1)}).status_code == 403
    done = admin.post("/console/insight/needs/handled", {"referral": referral.group(1)})
    assert done.status_code == 200 and "Forwarded by the county" not in done.text
    assert admin.post("/console/insight/needs/handled", {"referral": referral.group(1)}).status_code == 400
    assert [e.target for e in _trail(any_backend, "need_referral_handled")] == [referral.group(1)]
    assert "needs forwarded by the county" not in admin.get("/console/").text
    # Handled: the county may forward it again.
    assert "Forward to 甲镇" in county_admin.get(f"/console/insight/needs?until={UNTIL}").text


def test_low_ratings_are_followed_up_by_the_township_and_the_county_sees_no_comment(
    any_backend: Backend,
    county_admin: ConsoleClient,
    admin: ConsoleClient,
    reviewer: ConsoleClient,
    world: World,
) -> None:
    from cunzhan.fieldcrypto import SEALED_PREFIX

    path = f"/console/insight/satisfaction?until={UNTIL}&weeks=4"
    html = admin.get(path).text
    assert html.count("Mark as followed up</summary>") == 2  # a1-1 and a2-0, both open
    # The county: ratings and reasons of both townships, no comment, no booking link, no follow-up form.
    county_page = county_admin.get(path).text
    assert "I waited too long" in county_page and "The video kept stopping" in county_page
    assert "医生迟到了一个小时" not in county_page and "乙镇的评论" not in county_page
    assert "/console/bookings/" not in county_page and "Open the booking" not in county_page
    assert "Mark as followed up" not in county_page and county_page.count("Not yet followed up") == 3
    with any_backend.database.read() as conn:
        ids = dict(conn.execute(sa.select(db.feedback.c.booking_id, db.feedback.c.id)).all())
    a11, b10 = ids[world.booking["a1-1"]], ids[world.booking["b1-0"]]
    note = "已电话回访居民，李医生当天迟到，已提醒"
    # Refused: too long a note, another township's rating, a county account, no CSRF token.
    assert (
        admin.post(
            "/console/insight/satisfaction/follow-up", {"feedback": a11, "note": "长" * 201}
        ).status_code
        == 400
    )
    assert (
        admin.post("/console/insight/satisfaction/follow-up", {"feedback": b10, "note": "x"}).status_code
        == 400
    )
    assert county_admin.post("/console/insight/satisfaction/follow-up", {"feedback": b10}).status_code == 403
    assert (
        admin.post("/console/insight/satisfaction/follow-up", {"feedback": a11}, csrf="").status_code == 403
    )
    assert _trail(any_backend, "rating_followed_up") == []
    done = reviewer.post(
        "/console/insight/satisfaction/follow-up", {"feedback": a11, "note": note, "back": path}
    )
    assert done.status_code == 200 and "Marked as followed up." in done.text
    assert (
        reviewer.post(
            "/console/insight/satisfaction/follow-up", {"feedback": a11, "note": "again"}
        ).status_code
        == 400
    )
    # Open ones only by default; with the box ticked the followed-up one comes after them, with who and the note.
    shown = admin.get(path).text
    assert "医生迟到了一个小时" not in shown and shown.count("Mark as followed up</summary>") == 1
    everything = admin.get(path + "&followed=1").text
    assert everything.index("The sound was hard to hear") < everything.index("医生迟到了一个小时")
    assert "by jia_shenhe" in everything and note in everything
    county_all = county_admin.get(path + "&followed=1").text
    assert "by jia_shenhe" in county_all and note not in county_all and "医生迟到了一个小时" not in county_all
    # The note is sealed at rest and never in the trail.
    with any_backend.database.read() as conn:
        row = conn.execute(sa.select(db.feedback).where(db.feedback.c.id == a11)).one()
    assert row.followed_up_by == "jia_shenhe" and row.follow_up_note.startswith(SEALED_PREFIX)
    assert "回访" not in row.follow_up_note
    trail = _trail(any_backend, "rating_followed_up")
    assert [(e.target, e.township_id, e.who) for e in trail] == [(a11, world.a, "jia_shenhe")]
    assert trail[0].detail == {"rating": 1, "note": True} and note not in str(trail[0].detail)
    # It is the resident's: in their record (the right of access), and erased with their comment.
    from township.console.queries import resident_record
    from township.retention import erase_residents

    with any_backend.database.read() as conn:
        record = resident_record(conn, world.a, world.resident["up1"])
    assert record is not None and [f["follow_up_note"] for f in record["feedback"]] == [note]
    with any_backend.database.write() as conn:
        erase_residents(conn, [world.resident["up1"]], db.now_utc())
    with any_backend.database.read() as conn:
        row = conn.execute(sa.select(db.feedback).where(db.feedback.c.id == a11)).one()
    assert row.follow_up_note is None and row.comment is None and row.followed_up_by == "jia_shenhe"
