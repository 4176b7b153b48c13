"""Managing accounts and townships in the console (#18, the audit's fixes), against real backends on SQLite and
PostgreSQL: a password reset and a disable end every existing session of the account for good (also after it is
enabled again, and in another backend process on the same database); a county administrator resets, disables,
enables and changes the role of its own county's townships' accounts (never another county's), reads the county's
staff-actions trail, changes a township's name, time zone and language, and makes another county administrator;
time zones and password lengths are checked on the console and the command line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from tests.browser.console_client import STAFF_PASSWORD, ConsoleClient
from tests.integration.test_backend_cli import _run
from township import db, services

COUNTY, OTHER = "lishui", "jinyun"
BAD_ZONES = ("Z" * 10_000, "Asia/" + "x" * 295, "Asia", "Factory")  # 500, 500, 500 and accepted before


@pytest.fixture(scope="module")
def world(any_backend: Any) -> Any:
    """The demo township (an administrator and a reviewer) outside any county; county lishui with its administrator
    and township bihu (its administrator and a reviewer); county jinyun with its administrator and township hukou."""
    backend = any_backend
    backend.create_staff("zhang-admin", "admin", STAFF_PASSWORD)
    backend.create_staff("li-reviewer", "reviewer", STAFF_PASSWORD)
    for county, name, chief, town in (
        (COUNTY, "丽水县", "xian-chief", "bihu"),
        (OTHER, "缙云县", "jin-chief", "hukou"),
    ):
        services.create_county(backend.database, county, name)
        services.create_county_admin(backend.database, county, chief, STAFF_PASSWORD)
        services.create_township(
            backend.database, town, town, county=services.county_id(backend.database, county)
        )
        services.create_staff(backend.database, town, f"{town}-admin", "admin", STAFF_PASSWORD)
    services.create_staff(backend.database, "bihu", "bihu-reviewer", "reviewer", STAFF_PASSWORD)
    return backend


def _client(base: str, username: str, slug: str = "demo", password: str = STAFF_PASSWORD) -> ConsoleClient:
    client = ConsoleClient(base)
    signed = client.sign_in(username, password, township=slug)
    assert signed.history and signed.history[0].status_code == 303, signed.text[:300]
    return client


def _copy(client: ConsoleClient, base: str | None = None) -> ConsoleClient:
    """Another browser holding a copy of `client`'s session cookie (to another backend at `base`)."""
    thief = ConsoleClient(base or client.base)
    cookie = client.http.cookies.get("cz_session")
    assert cookie
    thief.http.cookies.set("cz_session", cookie, path="/console")
    return thief


def _signed_in(client: ConsoleClient, page: str = "/console/review") -> bool:
    response = client.get(page)
    return response.status_code == 200 and "/console/signin" not in response.url


def _id(database: db.Database, username: str) -> str:
    with database.read() as conn:
        return str(
            conn.execute(
                sa.select(db.staff_users.c.id).where(db.staff_users.c.username == username)
            ).scalar_one()
        )


def _audit(database: db.Database, target: str) -> list[tuple[str, str, str | None]]:
    a = db.staff_audit
    with database.read() as conn:
        rows = conn.execute(
            sa.select(a.c.action, a.c.who, a.c.county_id).where(a.c.target == target).order_by(a.c.id)
        )
        return [(r.action, r.who, r.county_id) for r in rows]


def test_a_password_reset_ends_every_session_of_the_account(world: Any) -> None:
    admin = _client(world.url, "zhang-admin")
    reviewer = _client(world.url, "li-reviewer")
    copied = _copy(reviewer)
    assert _signed_in(reviewer) and _signed_in(copied)
    target = _id(world.database, "li-reviewer")
    admin.get(f"/console/accounts/{target}")
    reset = admin.post(
        f"/console/accounts/{target}/password", {"password": "fresh-pass-1", "again": "fresh-pass-1"}
    )
    assert reset.status_code == 200 and "Password changed" in reset.text
    assert not _signed_in(reviewer) and not _signed_in(copied)  # the session and its copy
    assert _signed_in(admin)  # someone else's reset leaves the administrator's own session alone
    again = _client(world.url, "li-reviewer", password="fresh-pass-1")
    assert _signed_in(again)
    assert not _signed_in(copied)  # and the old one stays dead after a new sign-in


def test_someone_setting_their_own_password_keeps_only_the_session_they_did_it_in(world: Any) -> None:
    here = _client(world.url, "zhang-admin")
    elsewhere = _client(world.url, "zhang-admin")
    me = _id(world.database, "zhang-admin")
    here.get(f"/console/accounts/{me}")
    done = here.post(f"/console/accounts/{me}/password", {"password": "my-new-pass", "again": "my-new-pass"})
    assert done.status_code == 200 and "Password changed" in done.text
    assert _signed_in(here) and here.post("/console/accounts/" + me + "/password", {}).status_code == 400
    assert not _signed_in(elsewhere)
    refused = here.post(f"/console/accounts/{me}/password", {"password": "x" * 7, "again": "x" * 7})
    assert refused.status_code == 400 and _signed_in(here)  # a refused change keeps the session
    services.reset_password(world.database, me, STAFF_PASSWORD, STAFF_PASSWORD, staff_id=None)


def test_a_disabled_account_stays_signed_out_after_it_is_enabled_again(world: Any) -> None:
    admin = _client(world.url, "zhang-admin")
    reviewer = _client(world.url, "li-reviewer", password="fresh-pass-1")
    copied = _copy(reviewer)
    target = _id(world.database, "li-reviewer")
    admin.get(f"/console/accounts/{target}")
    assert "Account disabled" in admin.post(f"/console/accounts/{target}/disable").text
    assert "enabled again" in admin.post(f"/console/accounts/{target}/enable").text
    assert not _signed_in(reviewer) and not _signed_in(copied)
    assert _signed_in(_client(world.url, "li-reviewer", password="fresh-pass-1"))


def test_sign_outs_by_reset_and_disable_hold_in_every_backend_process(
    world: Any, start_backend: Callable[..., Any]
) -> None:
    other = start_backend(world.kind, db_url=world.db_url)  # a second app on the same database
    reviewer = _client(world.url, "li-reviewer", password="fresh-pass-1")
    there = _copy(reviewer, other.url)
    assert _signed_in(there)  # one signing key, one session, both processes
    admin = _client(other.url, "zhang-admin")
    target = _id(world.database, "li-reviewer")
    admin.get(f"/console/accounts/{target}")
    assert admin.post(
        f"/console/accounts/{target}/password", {"password": STAFF_PASSWORD, "again": STAFF_PASSWORD}
    )
    assert not _signed_in(reviewer) and not _signed_in(there)
    reviewer = _client(other.url, "li-reviewer")
    here = _copy(reviewer, world.url)
    assert _signed_in(here)
    admin.post(f"/console/accounts/{target}/disable")
    admin.post(f"/console/accounts/{target}/enable")
    assert not _signed_in(reviewer) and not _signed_in(here)


def test_a_county_administrator_manages_its_townships_accounts_only(world: Any) -> None:
    chief = _client(world.url, "xian-chief", COUNTY)
    bihu = services.township_id(world.database, "bihu")
    page = chief.get(f"/console/townships/{bihu}")
    assert "bihu-admin" in page.text and "bihu-reviewer" in page.text
    admin_id, reviewer_id = _id(world.database, "bihu-admin"), _id(world.database, "bihu-reviewer")
    account = chief.get(f"/console/accounts/{admin_id}")
    assert account.status_code == 200 and f'href="/console/townships/{bihu}"' in account.text
    town_admin = _client(world.url, "bihu-admin", "bihu")
    reset = chief.post(
        f"/console/accounts/{admin_id}/password", {"password": "bihu-new-pw", "again": "bihu-new-pw"}
    )
    assert reset.status_code == 200 and "Password changed" in reset.text
    assert not _signed_in(town_admin, "/console/accounts")
    last = chief.post(f"/console/accounts/{admin_id}/disable")
    assert last.status_code == 400 and "last administrator" in last.text
    role = chief.post(f"/console/accounts/{reviewer_id}/role", {"role": "admin"})
    assert role.status_code == 200 and "Role changed" in role.text
    off = chief.post(f"/console/accounts/{admin_id}/disable")
    assert off.status_code == 200 and "Account disabled" in off.text
    assert ConsoleClient(world.url).sign_in("bihu-admin", "bihu-new-pw", township="bihu").status_code == 401
    on = chief.post(f"/console/accounts/{admin_id}/enable")
    assert on.status_code == 200 and "enabled again" in on.text
    county_id = services.county_id(world.database, COUNTY)
    trail = _audit(world.database, "bihu-admin")
    for action in ("staff_password_reset", "staff_disabled", "staff_enabled"):
        assert (action, "xian-chief", county_id) in trail
    assert ("staff_role_changed", "xian-chief", county_id) in _audit(world.database, "bihu-reviewer")
    # The county's trail shows them, with the township; the township's trail shows them too.
    county_trail = chief.get("/console/audit")
    assert county_trail.status_code == 200 and "Staff account disabled" in county_trail.text
    assert "bihu-admin" in county_trail.text
    assert "Staff account disabled" in _client(world.url, "bihu-reviewer", "bihu").get("/console/audit").text

    # Another county's, and a township outside any county: not found, nothing done.
    outside = [
        _id(world.database, "hukou-admin"),
        _id(world.database, "li-reviewer"),
        _id(world.database, "jin-chief"),
    ]
    before = [_audit(world.database, name) for name in ("hukou-admin", "li-reviewer", "jin-chief")]
    for account_id in outside:
        assert chief.get(f"/console/accounts/{account_id}").status_code == 404
        for action, body in (
            ("password", {"password": "stolen-pass", "again": "stolen-pass"}),
            ("disable", {}),
            ("enable", {}),
            ("role", {"role": "reviewer"}),
        ):
            assert chief.post(f"/console/accounts/{account_id}/{action}", body).status_code == 404
    assert [_audit(world.database, name) for name in ("hukou-admin", "li-reviewer", "jin-chief")] == before
    assert ConsoleClient(world.url).sign_in("hukou-admin", "stolen-pass", township="hukou").status_code == 401
    other = _client(world.url, "jin-chief", OTHER)
    assert other.get(f"/console/accounts/{admin_id}").status_code == 404
    assert "bihu-admin" not in other.get("/console/audit").text  # the other county's trail is its own
    # A reviewer has no accounts pages and no trail.
    reviewer = _client(world.url, "li-reviewer")
    assert reviewer.get(f"/console/accounts/{admin_id}").status_code == 403
    assert reviewer.get("/console/audit").status_code == 403


def test_time_zones_that_are_no_place_are_refused_on_the_console(world: Any) -> None:
    chief = _client(world.url, "xian-chief", COUNTY)
    chief.get("/console/townships")
    with world.database.read() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(db.townships)).scalar_one()
    for n, zone in enumerate(BAD_ZONES):
        made = chief.post(
            "/console/townships", {"name": "新镇", "slug": f"xin{n}", "zone": zone, "locale": "zh_CN"}
        )
        assert made.status_code == 400 and "not a time zone" in made.text, (zone[:20], made.status_code)
    chinese = ConsoleClient(world.url, lang="zh_CN")
    chinese.sign_in("xian-chief", township=COUNTY)
    made = chinese.post(
        "/console/townships", {"name": "新镇", "slug": "xin9", "zone": "Asia", "locale": "zh_CN"}
    )
    assert made.status_code == 400 and "时区" in made.text
    with world.database.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.townships)).scalar_one() == before


def test_a_county_administrator_changes_a_township_but_not_its_short_name(world: Any) -> None:
    chief = _client(world.url, "xian-chief", COUNTY)
    bihu = services.township_id(world.database, "bihu")
    chief.get(f"/console/townships/{bihu}")
    for zone in BAD_ZONES:
        bad = chief.post(f"/console/townships/{bihu}", {"name": "碧湖镇", "zone": zone, "locale": "en"})
        assert bad.status_code == 400 and "not a time zone" in bad.text
    empty = chief.post(f"/console/townships/{bihu}", {"name": " ", "zone": "Asia/Urumqi", "locale": "en"})
    assert empty.status_code == 400 and "enter a name" in empty.text
    saved = chief.post(
        f"/console/townships/{bihu}",
        {"name": "碧湖镇", "zone": "Asia/Urumqi", "locale": "en", "slug": "renamed"},
    )
    assert saved.status_code == 200 and "Township saved" in saved.text
    with world.database.read() as conn:
        town = conn.execute(sa.select(db.townships).where(db.townships.c.id == bihu)).one()
    assert (town.slug, town.name, town.zone, town.locale) == ("bihu", "碧湖镇", "Asia/Urumqi", "en")
    same = chief.post(f"/console/townships/{bihu}", {"name": "碧湖镇", "zone": "Asia/Urumqi", "locale": "en"})
    assert "Nothing was changed" in same.text
    changes = [a for a in _audit(world.database, "bihu") if a[0] == "township_changed"]
    assert changes == [("township_changed", "xian-chief", services.county_id(world.database, COUNTY))]
    assert "Township changed" in chief.get("/console/audit").text
    # Not another county's township, and not by a township administrator.
    hukou = services.township_id(world.database, "hukou")
    assert (
        chief.post(f"/console/townships/{hukou}", {"name": "X", "zone": "UTC", "locale": "en"}).status_code
        == 404
    )
    town_admin = _client(world.url, "bihu-reviewer", "bihu")
    assert (
        town_admin.post(
            f"/console/townships/{bihu}", {"name": "X", "zone": "UTC", "locale": "en"}
        ).status_code
        == 403
    )
    with world.database.read() as conn:
        names = dict(conn.execute(sa.select(db.townships.c.slug, db.townships.c.name)).all())
    assert names["bihu"] == "碧湖镇" and names["hukou"] == "hukou"


def test_passwords_have_a_maximum_length(world: Any) -> None:
    admin = _client(world.url, "zhang-admin")
    admin.get("/console/accounts")
    long = "p" * (services.MAX_PASSWORD + 1)
    made = admin.post(
        "/console/accounts", {"username": "longpw", "role": "reviewer", "password": long, "again": long}
    )
    assert made.status_code == 400 and "at most 128 characters" in made.text
    huge = "p" * 10_000
    made = admin.post(
        "/console/accounts", {"username": "longpw", "role": "reviewer", "password": huge, "again": huge}
    )
    assert made.status_code == 400 and "at most 128 characters" in made.text
    target = _id(world.database, "li-reviewer")
    admin.get(f"/console/accounts/{target}")
    reset = admin.post(f"/console/accounts/{target}/password", {"password": huge, "again": huge})
    assert reset.status_code == 400 and "at most 128 characters" in reset.text
    longest = "p" * services.MAX_PASSWORD
    ok = admin.post(
        "/console/accounts", {"username": "longpw", "role": "reviewer", "password": longest, "again": longest}
    )
    assert ok.status_code == 200 and "Account created" in ok.text
    with world.database.read() as conn:
        names = set(conn.execute(sa.select(db.staff_users.c.username)).scalars())
    assert "longpw" in names


def test_a_county_administrator_makes_another_for_its_own_county(world: Any) -> None:
    chief = _client(world.url, "xian-chief", COUNTY)
    page = chief.get("/console/county")
    assert page.status_code == 200 and "xian-chief" in page.text and "jin-chief" not in page.text
    differ = chief.post(
        "/console/county/admins", {"username": "xian-two", "password": "county-pass", "again": "x"}
    )
    assert differ.status_code == 400 and "not the same" in differ.text
    long = "p" * 10_000
    too_long = chief.post("/console/county/admins", {"username": "xian-two", "password": long, "again": long})
    assert too_long.status_code == 400 and "at most 128 characters" in too_long.text
    made = chief.post(
        "/console/county/admins", {"username": "xian-two", "password": "county-pass", "again": "county-pass"}
    )
    assert made.status_code == 200 and "Account created" in made.text and "xian-two" in made.text
    second = _client(world.url, "xian-two", COUNTY, password="county-pass")
    assert "Townships of 丽水县" in second.get("/console/townships").text
    assert ConsoleClient(world.url).sign_in("xian-two", "county-pass", township=OTHER).status_code == 401
    with world.database.read() as conn:
        row = conn.execute(sa.select(db.staff_users).where(db.staff_users.c.username == "xian-two")).one()
    assert (row.role, row.county_id, row.township_id) == (
        "county_admin",
        services.county_id(world.database, COUNTY),
        None,
    )
    assert ("staff_created", "xian-chief", row.county_id) in _audit(world.database, "xian-two")
    assert _client(world.url, "zhang-admin").get("/console/county").status_code == 403

    # The county's administrators manage each other: a new password and a disable end the other's sessions.
    account = chief.get(f"/console/accounts/{row.id}")
    assert account.status_code == 200 and 'href="/console/county"' in account.text
    assert 'action="/console/accounts/' + row.id + '/role"' not in account.text  # one level per account
    reset = chief.post(
        f"/console/accounts/{row.id}/password", {"password": "county-pass-2", "again": "county-pass-2"}
    )
    assert reset.status_code == 200 and "Password changed" in reset.text
    assert not _signed_in(second, "/console/townships")
    second = _client(world.url, "xian-two", COUNTY, password="county-pass-2")
    assert "Account disabled" in chief.post(f"/console/accounts/{row.id}/disable").text
    assert ConsoleClient(world.url).sign_in("xian-two", "county-pass-2", township=COUNTY).status_code == 401
    assert "enabled again" in chief.post(f"/console/accounts/{row.id}/enable").text
    assert not _signed_in(second, "/console/townships")
    assert chief.post(f"/console/accounts/{row.id}/role", {"role": "admin"}).status_code == 400
    assert [a[0] for a in _audit(world.database, "xian-two")] == [
        "staff_created",
        "staff_password_reset",
        "staff_disabled",
        "staff_enabled",
    ]
    # Never across counties or levels, and a county keeps an administrator.
    assert (
        _client(world.url, "jin-chief", OTHER).post(f"/console/accounts/{row.id}/disable").status_code == 404
    )
    assert _client(world.url, "jin-chief", OTHER).get(f"/console/accounts/{row.id}").status_code == 404
    assert _client(world.url, "zhang-admin").get(f"/console/accounts/{row.id}").status_code == 404
    with world.database.read() as conn:
        state = conn.execute(
            sa.select(db.staff_users.c.disabled_at).where(db.staff_users.c.id == row.id)
        ).scalar()
    assert state is None
    with pytest.raises(services.ServiceError) as last:
        services.set_staff_disabled(world.database, _id(world.database, "jin-chief"), True, staff_id=None)
    assert last.value.msgid == services.ERR_LAST_COUNTY_ADMIN


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_the_command_line_refuses_time_zones_that_are_no_place(tmp_path: Any, zone: str) -> None:
    url = f"sqlite:///{tmp_path / 'zones.db'}"
    for command in ("create-township", "create-county"):
        done = _run(
            [command, "--db", url, "--slug", "xin", "--name", "新", "--zone", zone], tmp_path / "home"
        )
        assert done.returncode == 2 and "IANA time zone" in done.stderr, (command, done.stderr[-300:])
        assert "Traceback" not in done.stderr


def test_the_command_line_refuses_a_password_over_the_maximum(tmp_path: Any) -> None:
    home, url = tmp_path / "home", f"sqlite:///{tmp_path / 'long.db'}"
    assert _run(["create-township", "--db", url, "--slug", "xin", "--name", "新"], home).returncode == 0
    assert _run(["create-county", "--db", url, "--slug", "xian", "--name", "县"], home).returncode == 0
    long = "p" * 10_000 + "\n"
    staff = _run(
        ["create-staff", "--db", url, "--township", "xin", "--username", "ab", "--role", "admin"], home, long
    )
    chief = _run(["create-county-admin", "--db", url, "--county", "xian", "--username", "chief"], home, long)
    for done in (staff, chief):
        assert done.returncode == 1 and "128" in done.stderr, done.stderr[-300:]
    database = db.Database(url)
    with database.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.staff_users)).scalar_one() == 0
    database.dispose()
