"""The accounts and townships pages (#18) in real headless Chromium against a real backend, on SQLite and
PostgreSQL, in Chinese and English: a county administrator (made by the command line) signs in with the county's
slug, creates a township and its first administrator, opens that account's page, changes the township's name, makes
another county administrator and reads the county's staff actions; the township's administrator creates an account
and opens it. Every page fits a hall PC's width, has one heading and keeps its menu on one line; each is photographed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.browser.conftest import ROOT
from tests.browser.console_client import STAFF_PASSWORD
from township import db

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COUNTY = "songyang"


def _cli(*args: str, stdin: str = "") -> None:
    done = subprocess.run(
        [sys.executable, "-m", "township", *args],
        input=stdin,
        text=True,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _sign_in(page: Any, base: str, slug: str, username: str, lands: str) -> None:
    page.goto(base + "/console/signin")
    page.select_option("#township", slug)
    page.fill("#username", username)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + lands)


def _looks_right(page: Any, shot: Path) -> None:
    assert page.locator("h1").count() == 1, page.url
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, (page.url, overflow)
    menu_top = page.evaluate("[...document.querySelectorAll('nav a')].map(a => a.offsetTop)")
    assert len(set(menu_top)) <= 1, (page.url, menu_top)
    page.screenshot(path=str(shot), full_page=True)


def test_county_and_township_administrators_manage_accounts_in_both_languages(
    console_backend: Any, chromium: Any, screenshots: Path
) -> None:
    kind, base = console_backend.kind, console_backend.url
    _cli("create-county", "--db", console_backend.db_url, "--slug", COUNTY, "--name", "松阳县")
    _cli(
        "create-county-admin",
        "--db",
        console_backend.db_url,
        "--county",
        COUNTY,
        "--username",
        "xianli",
        stdin=STAFF_PASSWORD + "\n",
    )
    for n, lang in enumerate(("zh_CN", "en")):
        context = chromium.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.goto(base + f"/console/lang/{lang}?next=/console/signin")
        _sign_in(page, base, COUNTY, "xianli", "/console/townships")
        _looks_right(page, screenshots / f"{kind}-{lang}-townships.png")

        slug = f"town{n}"
        page.fill("#t-name", "西屏镇" if lang == "zh_CN" else "Xiping")
        page.fill("#t-slug", slug)
        page.fill("#t-zone", "Asia/Shanghai")
        page.click("form.card button[type=submit]")
        page.wait_for_url(f"{base}/console/townships/*")
        assert page.locator(".notice.ok").count() == 1
        page.fill("#a-username", f"admin{n}")
        page.fill("#a-password", STAFF_PASSWORD)
        page.fill("#a-again", STAFF_PASSWORD)
        page.click("form[action$='/admins'] button[type=submit]")
        page.wait_for_load_state()
        assert page.locator(".notice.ok").count() == 1
        assert f"admin{n}" in page.locator("table").inner_text()
        _looks_right(page, screenshots / f"{kind}-{lang}-township.png")
        town_url = page.url.split("?")[0]
        page.click(f"table a:has-text('admin{n}')")  # the county opens the township's account
        page.wait_for_url(f"{base}/console/accounts/*")
        _looks_right(page, screenshots / f"{kind}-{lang}-county-account.png")
        page.goto(town_url)
        page.fill("#e-name", "西屏镇（新）" if lang == "zh_CN" else "Xiping (new)")
        page.fill("#e-zone", "Asia")  # a directory of the time zone database, no zone: refused, said why
        page.click("form[action$='" + town_url.rsplit("/", 1)[1] + "'] button[type=submit]")
        page.wait_for_load_state()
        assert page.locator(".notice.error").count() == 1
        _looks_right(page, screenshots / f"{kind}-{lang}-township-edit-error.png")
        page.fill("#e-zone", "Asia/Urumqi")
        page.click("form[action$='" + town_url.rsplit("/", 1)[1] + "'] button[type=submit]")
        page.wait_for_load_state()
        assert page.locator(".notice.ok").count() == 1
        assert "Asia/Urumqi" in page.locator("p.muted").first.inner_text()
        page.goto(base + "/console/county")
        page.fill("#c-username", f"xianfu{n}")
        page.fill("#c-password", STAFF_PASSWORD)
        page.fill("#c-again", STAFF_PASSWORD)
        page.click("form.card button[type=submit]")
        page.wait_for_load_state()
        assert page.locator(".notice.ok").count() == 1 and f"xianfu{n}" in page.locator("table").inner_text()
        _looks_right(page, screenshots / f"{kind}-{lang}-county-admins.png")
        page.click(f"table a:has-text('xianfu{n}')")  # another county administrator's page: password, access
        page.wait_for_url(f"{base}/console/accounts/*")
        assert page.locator("#role").count() == 0
        _looks_right(page, screenshots / f"{kind}-{lang}-county-admin-account.png")
        page.goto(base + "/console/audit")
        assert "xianli" in page.locator("table").inner_text()
        _looks_right(page, screenshots / f"{kind}-{lang}-county-audit.png")
        context.close()

        context = chromium.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.goto(base + f"/console/lang/{lang}?next=/console/signin")
        _sign_in(page, base, "demo", "guanli", "/console/")
        _looks_right(page, screenshots / f"{kind}-{lang}-home-with-accounts.png")
        page.goto(base + "/console/accounts")
        _looks_right(page, screenshots / f"{kind}-{lang}-accounts.png")
        page.fill("#new-username", f"shenhe{n}")
        page.fill("#new-password", "short")
        page.fill("#new-again", "short")
        page.evaluate(
            "document.querySelectorAll('input[minlength]').forEach(i => i.removeAttribute('minlength'))"
        )
        page.click("form.card button[type=submit]")
        page.wait_for_load_state()
        assert page.locator(".notice.error").count() == 1  # the server says why; nothing made
        _looks_right(page, screenshots / f"{kind}-{lang}-accounts-error.png")
        page.fill("#new-password", STAFF_PASSWORD)
        page.fill("#new-again", STAFF_PASSWORD)
        page.click("form.card button[type=submit]")
        page.wait_for_load_state()
        assert page.locator(".notice.ok").count() == 1
        page.click(f"tr:has-text('shenhe{n}') a")
        page.wait_for_url(f"{base}/console/accounts/*")
        _looks_right(page, screenshots / f"{kind}-{lang}-account.png")
        context.close()
    with console_backend.database.read() as conn:
        made = conn.execute(
            sa.select(db.staff_users.c.username).where(
                db.staff_users.c.username.in_(["admin0", "admin1", "shenhe0", "shenhe1"])
            )
        ).scalars()
        assert sorted(made) == ["admin0", "admin1", "shenhe0", "shenhe1"]
