"""Levels of console accounts (#18) against a real backend, on SQLite and PostgreSQL: a county administrator signs in
with the county's slug and creates townships and their first administrator; a township administrator manages the
township's accounts; every existing console route refuses what a provider or a county account may not do."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute

from tests.browser.console_client import STAFF_PASSWORD, ConsoleClient
from township import db, services
from township.console.routes import ROUTERS

COUNTY = "lishui"


@pytest.fixture(scope="module")
def world(any_backend: Any) -> Any:
    """The demo township (an administrator, a reviewer, a provider account), and a county with its administrator.
    The demo township is outside the county."""
    backend = any_backend
    backend.create_staff("zhang-admin", "admin", STAFF_PASSWORD)
    backend.create_staff("li-reviewer", "reviewer", STAFF_PASSWORD)
    provider_id = services.save_provider(
        backend.database,
        None,
        staff_id=None,
        township_id=backend.township_id(),
        name="王医生",
        title="全科",
        organisation="卫生院",
        active=True,
    )
    services.create_staff(
        backend.database, "demo", "wang-doctor", "provider", STAFF_PASSWORD, provider_id=provider_id
    )
    services.create_county(backend.database, COUNTY, "丽水县")
    services.create_county_admin(backend.database, COUNTY, "xian-chief", STAFF_PASSWORD)
    backend.provider_id = provider_id
    return backend


def _client(world: Any, username: str, slug: str = "demo", password: str = STAFF_PASSWORD) -> ConsoleClient:
    client = ConsoleClient(world.url)
    signed = client.sign_in(username, password, township=slug)
    assert signed.history and signed.history[0].status_code == 303, signed.text[:300]
    assert client.get("/console/").status_code in (200, 404)  # a provider's roster is #16's page
    assert client.csrf
    return client


def _fingerprint(database: db.Database) -> dict[str, Any]:
    """Every table's row count and the staff accounts' state: what a refused request must leave as it was."""
    with database.read() as conn:
        counts = {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in db.metadata.sorted_tables
            if t.name not in ("signin_throttle", "console_revoked")
        }
        staff = conn.execute(
            sa.select(
                db.staff_users.c.id,
                db.staff_users.c.role,
                db.staff_users.c.disabled_at,
                db.staff_users.c.password_hash,
            ).order_by(db.staff_users.c.id)
        ).all()
    return {"counts": counts, "staff": [tuple(r) for r in staff]}


# The routes a provider or a county account may use (any other console route refuses them with a 403 page).
EVERYONE = {
    ("GET", "/console/signin"),
    ("POST", "/console/signin"),
    ("GET", "/console/lang/{code}"),
    ("POST", "/console/signout"),
    ("GET", "/console/"),  # redirects to the account's own start page
    ("GET", "/console/{path:path}"),  # an unknown address: 404
}
ALLOWED = {
    "provider": EVERYONE
    | {
        ("GET", "/console/roster"),
        ("POST", "/console/roster/sessions/{session_id}/next"),  # their own sessions only: test_calls.py
        ("POST", "/console/roster/bookings/{booking_id}/{action}"),
    },
    "county_admin": EVERYONE
    | {
        ("GET", "/console/townships"),
        ("POST", "/console/townships"),
        ("GET", "/console/townships/{township_id}"),
        ("POST", "/console/townships/{township_id}"),  # change it: test_console_account_admin.py
        ("POST", "/console/townships/{township_id}/admins"),
        # Its townships' accounts (another's is 404) and the county's trail: test_console_account_admin.py
        ("GET", "/console/accounts/{account_id}"),
        ("POST", "/console/accounts/{account_id}/role"),
        ("POST", "/console/accounts/{account_id}/password"),
        ("POST", "/console/accounts/{account_id}/disable"),
        ("POST", "/console/accounts/{account_id}/enable"),
        ("GET", "/console/audit"),
        ("GET", "/console/county"),  # the county's administrators
        ("POST", "/console/county/admins"),
        ("GET", "/console/insight"),  # the county's figures (#18): test_insight_pages.py
        ("GET", "/console/insight/satisfaction"),
        ("GET", "/console/insight/needs"),
        ("GET", "/console/insight/export"),
        ("POST", "/console/insight/export"),
        ("POST", "/console/insight/needs/forward"),  # a need to its township (#18): test_insight_pages.py
    },
}


def _console_routes() -> list[tuple[str, str]]:
    routes = []
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                routes.extend((method, route.path) for method in sorted(route.methods))
    return sorted(set(routes))


@pytest.mark.parametrize(
    "username,slug,role", [("wang-doctor", "demo", "provider"), ("xian-chief", COUNTY, "county_admin")]
)
def test_every_console_route_refuses_what_the_role_may_not_do(
    world: Any, username: str, slug: str, role: str
) -> None:
    client = _client(world, username, slug)
    before = _fingerprint(world.database)
    refused = []
    for method, path in _console_routes():
        if (method, path) in ALLOWED[role]:
            continue
        url = re.sub(r"\{[a-z_]+(:[a-z]+)?\}", str(uuid.uuid4()), path)
        if method == "GET":
            response = client.get(url, allow_redirects=False)
        else:
            response = client.post(
                url, {}, allow_redirects=False
            )  # with a valid CSRF token: the role decides
        assert response.status_code == 403, (method, path, response.status_code)
        assert "<h1>" in response.text  # a page saying why, not a bare error
        refused.append(path)
    assert len(refused) >= 30  # the whole console, not an empty list
    assert _fingerprint(world.database) == before  # nothing changed


def test_provider_and_county_accounts_start_on_their_own_pages(world: Any) -> None:
    provider = _client(world, "wang-doctor")
    home = provider.get("/console/", allow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/console/roster"
    review = provider.get("/console/review")
    assert review.status_code == 403 and "provider account" in review.text
    county = _client(world, "xian-chief", COUNTY)
    home = county.get("/console/")
    assert home.url.endswith("/console/townships") and "Townships of 丽水县" in home.text
    assert "County administrator" in home.text
    assert 'href="/console/review"' not in home.text  # no township menu for a county account
    page = county.get("/console/schedule")
    assert page.status_code == 403 and "county account" in page.text
    reviewer = _client(world, "li-reviewer")
    assert reviewer.get("/console/accounts").status_code == 403
    assert reviewer.get("/console/townships").status_code == 403
    assert "Only a county administrator" in reviewer.get("/console/townships").text


def test_the_sign_in_form_offers_townships_and_counties(world: Any) -> None:
    page = ConsoleClient(world.url).get("/console/signin").text
    assert "Township or county" in page
    assert f'<option value="{COUNTY}"' in page and '<option value="demo"' in page
    # The same user name at another level is another account; a wrong level is a wrong password.
    assert ConsoleClient(world.url).sign_in("xian-chief", township="demo").status_code == 401


def test_a_county_administrator_creates_a_township_and_its_first_administrator(world: Any) -> None:
    county = _client(world, "xian-chief", COUNTY)
    bad = county.post(
        "/console/townships", {"name": "", "slug": "Bad Slug", "zone": "Asia/Shanghai", "locale": "zh_CN"}
    )
    assert bad.status_code == 400 and "short name" in bad.text
    taken = county.post(
        "/console/townships", {"name": "演示", "slug": "demo", "zone": "Asia/Shanghai", "locale": "zh_CN"}
    )
    assert taken.status_code == 400 and "already used" in taken.text
    zone = county.post(
        "/console/townships", {"name": "碧湖镇", "slug": "bihu", "zone": "Mars/Base", "locale": "zh_CN"}
    )
    assert zone.status_code == 400 and "not a time zone" in zone.text
    made = county.post(
        "/console/townships", {"name": "碧湖镇", "slug": "bihu", "zone": "Asia/Urumqi", "locale": "en"}
    )
    assert made.status_code == 200 and "Township created" in made.text, made.text[:500]
    township_id = made.url.split("/")[-1].split("?")[0]
    with world.database.read() as conn:
        town = conn.execute(sa.select(db.townships).where(db.townships.c.slug == "bihu")).one()
    assert (town.id, town.zone, town.locale, town.name) == (township_id, "Asia/Urumqi", "en", "碧湖镇")
    assert town.county_id == services.county_id(world.database, COUNTY)
    assert "bihu" in county.get("/console/townships").text

    differ = county.post(
        f"/console/townships/{township_id}/admins",
        {"username": "bihu-admin", "password": STAFF_PASSWORD, "again": STAFF_PASSWORD + "x"},
    )
    assert differ.status_code == 400 and "not the same" in differ.text
    created = county.post(
        f"/console/townships/{township_id}/admins",
        {"username": "bihu-admin", "password": STAFF_PASSWORD, "again": STAFF_PASSWORD},
    )
    assert created.status_code == 200 and "Account created" in created.text
    assert STAFF_PASSWORD not in created.text
    # A township outside the county is not the county's.
    demo = world.township_id()
    assert county.get(f"/console/townships/{demo}").status_code == 404
    outside = county.post(
        f"/console/townships/{demo}/admins",
        {"username": "x-admin", "password": STAFF_PASSWORD, "again": STAFF_PASSWORD},
    )
    assert outside.status_code == 404
    # The new administrator signs in to the new township and sees its (empty) console.
    admin = _client(world, "bihu-admin", "bihu")
    assert "bihu-admin" in admin.get("/console/accounts").text
    with world.database.read() as conn:
        stored = conn.execute(
            sa.select(db.staff_users.c.password_hash).where(db.staff_users.c.username == "bihu-admin")
        ).scalar_one()
        audit = conn.execute(
            sa.select(db.staff_audit.c.action, db.staff_audit.c.who, db.staff_audit.c.county_id).where(
                db.staff_audit.c.township_id == township_id
            )
        ).all()
    assert stored.startswith("$argon2id$")
    assert ("township_created", "xian-chief") in [(a.action, a.who) for a in audit]
    assert ("staff_created", "xian-chief") in [(a.action, a.who) for a in audit]


def test_a_township_administrator_manages_the_township_accounts(world: Any) -> None:
    admin = _client(world, "zhang-admin")
    page = admin.get("/console/accounts")
    assert page.status_code == 200 and "li-reviewer" in page.text and "王医生" in page.text
    no_provider = admin.post(
        "/console/accounts",
        {
            "username": "zhao",
            "role": "provider",
            "provider_id": "",
            "password": "zhao-password",
            "again": "zhao-password",
        },
    )
    assert no_provider.status_code == 400 and "needs the provider" in no_provider.text
    made = admin.post(
        "/console/accounts",
        {
            "username": "zhao",
            "role": "reviewer",
            "provider_id": "",
            "password": "zhao-password",
            "again": "zhao-password",
        },
    )
    assert made.status_code == 200 and "Account created" in made.text
    taken = admin.post(
        "/console/accounts",
        {"username": "zhao", "role": "reviewer", "password": "zhao-password", "again": "zhao-password"},
    )
    assert taken.status_code == 400 and "already taken" in taken.text
    with world.database.read() as conn:
        zhao = conn.execute(sa.select(db.staff_users).where(db.staff_users.c.username == "zhao")).one()
    assert zhao.password_hash.startswith("$argon2id$") and "zhao-password" not in zhao.password_hash

    zhao_client = _client(world, "zhao", password="zhao-password")
    assert zhao_client.get("/console/review").status_code == 200

    admin.get(f"/console/accounts/{zhao.id}")
    role = admin.post(
        f"/console/accounts/{zhao.id}/role", {"role": "provider", "provider_id": world.provider_id}
    )
    assert role.status_code == 200 and "Role changed" in role.text
    assert zhao_client.get("/console/review").status_code == 403  # at once, in the session already open

    reset = admin.post(
        f"/console/accounts/{zhao.id}/password", {"password": "new-password-1", "again": "new-password-1"}
    )
    assert reset.status_code == 200 and "Password changed" in reset.text
    assert ConsoleClient(world.url).sign_in("zhao", "zhao-password", township="demo").status_code == 401
    signed = ConsoleClient(world.url).sign_in("zhao", "new-password-1", township="demo")
    assert signed.history and signed.history[0].headers["location"] == "/console/roster"  # a provider's start

    off = admin.post(f"/console/accounts/{zhao.id}/disable")
    assert off.status_code == 200 and "Account disabled" in off.text
    assert "/console/signin" in zhao_client.get("/console/").url  # signed out at its next request
    assert ConsoleClient(world.url).sign_in("zhao", "new-password-1", township="demo").status_code == 401
    on = admin.post(f"/console/accounts/{zhao.id}/enable")
    assert on.status_code == 200 and "enabled again" in on.text

    me = world.database.read
    with me() as conn:
        own_id = conn.execute(
            sa.select(db.staff_users.c.id).where(db.staff_users.c.username == "zhang-admin")
        ).scalar_one()
        actions = [
            r.action
            for r in conn.execute(sa.select(db.staff_audit.c.action).where(db.staff_audit.c.target == "zhao"))
        ]
    assert actions.count("staff_created") == 1
    for action in ("staff_role_changed", "staff_password_reset", "staff_disabled", "staff_enabled"):
        assert action in actions
    self_off = admin.post(f"/console/accounts/{own_id}/disable")
    assert self_off.status_code == 400 and "your own account" in self_off.text
    self_role = admin.post(f"/console/accounts/{own_id}/role", {"role": "reviewer"})
    assert self_role.status_code == 400
    # Another township's account does not exist here.
    with world.database.read() as conn:
        other = conn.execute(
            sa.select(db.staff_users.c.id).where(db.staff_users.c.username == "xian-chief")
        ).scalar_one()
    assert admin.post(f"/console/accounts/{other}/disable").status_code == 404
    assert admin.get(f"/console/accounts/{other}").status_code == 404


def test_a_township_keeps_its_last_administrator(world: Any) -> None:
    services.create_township(
        world.database, "shanxi", "山溪镇", county=services.county_id(world.database, COUNTY)
    )
    only = services.create_staff(world.database, "shanxi", "only-admin", "admin", STAFF_PASSWORD)
    with world.database.read() as conn:
        chief = conn.execute(
            sa.select(db.staff_users.c.id).where(db.staff_users.c.username == "xian-chief")
        ).scalar_one()
    for attempt in (
        lambda: services.set_staff_disabled(world.database, only, True, staff_id=chief),
        lambda: services.change_role(world.database, only, "reviewer", staff_id=chief),
        lambda: services.set_staff_disabled(world.database, only, True, staff_id=None),
    ):
        with pytest.raises(services.ServiceError) as refused:
            attempt()
        assert refused.value.msgid == services.ERR_LAST_ADMIN
    second = services.create_staff(
        world.database, "shanxi", "second-admin", "admin", STAFF_PASSWORD, staff_id=chief
    )
    services.set_staff_disabled(world.database, only, True, staff_id=second)
    # The county makes administrators only; reviewers and providers are the township's to make.
    with pytest.raises(services.ServiceError):
        services.create_staff(world.database, "shanxi", "rev", "reviewer", STAFF_PASSWORD, staff_id=chief)


def test_a_county_account_signs_out_and_fails_sign_in_on_its_county_trail(world: Any) -> None:
    county = _client(world, "xian-chief", COUNTY)
    assert county.post("/console/signout").status_code == 200
    assert (
        ConsoleClient(world.url).sign_in("xian-chief", "wrong-password", township=COUNTY).status_code == 401
    )
    with world.database.read() as conn:
        rows = conn.execute(
            sa.select(
                db.staff_audit.c.action, db.staff_audit.c.township_id, db.staff_audit.c.county_id
            ).where(db.staff_audit.c.who == "xian-chief", db.staff_audit.c.township_id.is_(None))
        ).all()
    county_id = services.county_id(world.database, COUNTY)
    assert {("sign_out", county_id), ("login_failed", county_id)} <= {(r.action, r.county_id) for r in rows}


def test_accounts_pages_are_in_chinese_by_default(world: Any) -> None:
    admin = ConsoleClient(world.url, lang="zh_CN")
    admin.sign_in("zhang-admin", township="demo")
    page = admin.get("/console/accounts").text
    assert "员工账号" in page and "管理员" in page
    county = ConsoleClient(world.url, lang="zh_CN")
    county.sign_in("xian-chief", township=COUNTY)
    assert "新建乡镇" in county.get("/console/townships").text


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_0006_keeps_existing_accounts_and_enforces_one_level(tmp_path: Any, kind: str) -> None:
    """A database at 0005 with township accounts upgrades with them intact; afterwards a row with no level, two
    levels, a county role in a township or a provider without a provider is refused by the database itself."""
    from alembic import command

    from tests.integration.conftest import _fresh_pg_database

    if kind == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'levels.db'}", (lambda: None)
    else:
        url, drop = _fresh_pg_database()
    try:
        command.upgrade(db.alembic_config(url), "0005_county_insight")
        engine = sa.create_engine(url)
        now = db.naive(db.now_utc())
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO townships (id, slug, name, cursor_secret, created_at) "
                    "VALUES ('t1', 'old', 'Old', 'x', :now)"
                ),
                {"now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO staff_users (id, township_id, username, role, password_hash, created_at) "
                    "VALUES ('s1', 't1', 'old-admin', 'admin', 'h', :now)"
                ),
                {"now": now},
            )
        engine.dispose()
        db.migrate(url)
        database = db.Database(url)
        with database.read() as conn:
            row = conn.execute(services.staff_query().where(db.staff_users.c.id == "s1")).one()
        assert services.staff_user(row).scope.level == "township" and row.slug == "old"
        county = services.create_county(database, "county", "County")
        bad_rows = [
            {"township_id": None, "county_id": None, "role": "admin"},
            {"township_id": "t1", "county_id": county, "role": "county_admin"},
            {"township_id": "t1", "county_id": None, "role": "county_admin"},
            {"township_id": None, "county_id": county, "role": "admin"},
            {"township_id": "t1", "county_id": None, "role": "provider"},
        ]
        for n, values in enumerate(bad_rows):
            with pytest.raises(sa.exc.IntegrityError), database.write() as conn:
                conn.execute(
                    sa.insert(db.staff_users).values(
                        id=f"bad{n}", username=f"bad{n}", password_hash="h", created_at=now, **values
                    )
                )
        database.dispose()
    finally:
        drop()


def test_every_role_has_a_name_in_both_languages() -> None:
    from cunzhan import i18n
    from township.console.deps import ROLE_NAMES

    assert set(ROLE_NAMES) == set(services.ROLES)
    with i18n.use_locale("zh_CN"):
        chinese = {i18n.gettext(words) for words in ROLE_NAMES.values()}
    assert len(chinese) == len(services.ROLES) and not chinese & set(ROLE_NAMES.values())


def test_the_command_line_makes_a_county_its_first_administrator_and_its_townships(tmp_path: Any) -> None:
    from tests.integration.test_backend_cli import _run
    from township.signin import sign_in

    home, url = tmp_path / "home", f"sqlite:///{tmp_path / 'cli.db'}"
    made = _run(["create-county", "--db", url, "--slug", "songyang", "--name", "松阳县"], home)
    assert made.returncode == 0, made.stderr
    chief = _run(
        ["create-county-admin", "--db", url, "--county", "songyang", "--username", "chief"],
        home,
        stdin="county-password\n",
    )
    assert chief.returncode == 0, chief.stderr
    assert "county-password" not in chief.stdout + chief.stderr
    town = _run(
        ["create-township", "--db", url, "--slug", "xiping", "--name", "西屏镇", "--county", "songyang"], home
    )
    assert town.returncode == 0, town.stderr
    clash = _run(["create-township", "--db", url, "--slug", "songyang", "--name", "X"], home)
    assert (
        clash.returncode == 1 and "这个简称已被某个乡镇或县使用" in clash.stderr
    )  # CLI messages are Chinese
    nowhere = _run(
        ["create-county-admin", "--db", url, "--county", "nowhere", "--username", "x"],
        home,
        stdin="a-password-1\n",
    )
    assert nowhere.returncode == 1
    database = db.Database(url)
    staff = sign_in(database, "songyang", "chief", "county-password", "127.0.0.1").staff
    assert staff is not None and staff.is_county_admin and staff.township_id == ""
    with database.read() as conn:
        county_id = conn.execute(sa.select(db.counties.c.id)).scalar_one()
        town_county = conn.execute(
            sa.select(db.townships.c.county_id).where(db.townships.c.slug == "xiping")
        ).scalar_one()
    assert staff.scope.level == "county" and staff.scope.id == county_id == town_county
    database.dispose()
