"""The county's view (#18) in real headless Chromium, on SQLite and PostgreSQL, in Chinese and English: the
dashboard, satisfaction, needs profile and evaluation export pages fit a hall PC's width, have one heading, keep the
menu on one line, and every chart is an image with a title whose figures follow it as a table. Screenshots go to
`$CUNZHAN_SCREENSHOTS/console` (look at them)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.browser.console_client import STAFF_PASSWORD
from tests.integration.insight_world import W2, build

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("keyring_ready")]

UNTIL = (W2 + dt.timedelta(days=6)).isoformat()

PAGES = [
    f"/console/insight?until={UNTIL}&weeks=4",
    f"/console/insight?until={UNTIL}&weeks=8&by=service&figure=no_show_rate",
    f"/console/insight/satisfaction?until={UNTIL}&weeks=4",
    f"/console/insight/needs?until={UNTIL}",
    "/console/insight/export",
]

# Every chart: an image with a title, and after it, in its own section, the table of its figures.
CHARTS_HAVE_TABLES = """() => [...document.querySelectorAll('main svg')].map(svg => {
  const section = svg.closest('section');
  const title = svg.querySelector('title');
  const tables = section ? [...section.querySelectorAll('table')] : [];
  return svg.getAttribute('role') === 'img' && !!title && title.textContent.length > 0
    && tables.some(t => svg.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING);
})"""


def _sign_in(page: Any, base: str) -> None:
    page.goto(base + "/console/signin")
    page.fill("#username", "zhangs")
    page.fill("#password", STAFF_PASSWORD)
    if page.locator("#township").count():
        page.select_option("#township", "insight-a")
    page.click("button[type=submit]")
    page.wait_for_url(base + "/console/")


def test_the_insight_pages_in_both_languages(console_backend: Any, chromium: Any, screenshots: Path) -> None:
    from township import db
    from township.insight.unmet import record_unmet

    world = build(console_backend.database)
    with console_backend.database.write() as conn:
        a1 = conn.execute(sa.select(db.sessions).where(db.sessions.c.id == world.session["a1"])).one()
        for _ in range(3):
            record_unmet(conn, world.a, "slot_full", village="上坪村", session=a1)
    console_backend.create_staff("zhangs", "admin", STAFF_PASSWORD, township="insight-a")
    kind = console_backend.kind
    for lang in ("zh_CN", "en"):
        context = chromium.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.goto(console_backend.url + f"/console/lang/{lang}?next=/console/signin")
        _sign_in(page, console_backend.url)
        needs_link = ""
        for n, path in enumerate(PAGES):
            response = page.goto(console_backend.url + path)
            assert response is not None and response.status == 200, path
            name = path.split("?")[0].strip("/").replace("/", "_")
            page.screenshot(path=str(screenshots / f"{kind}-{lang}-{name}-{n}.png"), full_page=True)
            assert page.locator("h1").count() == 1, path
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (lang, path, overflow)
            menu_top = page.evaluate("[...document.querySelectorAll('.topbar nav a')].map(a => a.offsetTop)")
            assert len(set(menu_top)) == 1, (lang, path, menu_top)
            assert (
                page.locator(".topbar nav a[aria-current=page]").get_attribute("href") == "/console/insight"
            )
            charts = page.evaluate(CHARTS_HAVE_TABLES)
            assert all(charts), (lang, path, charts)
            if "/export" not in path:
                assert charts, (lang, path)
            if "/needs" in path:
                needs_link = page.locator(
                    "a.button", has_text="新建场次" if lang == "zh_CN" else "Create sessions"
                )
                needs_link = needs_link.first.get_attribute("href") or ""
        # The needs profile's one click: the schedule's create form, filled in.
        assert needs_link.startswith("/console/sessions/new?")
        page.goto(console_backend.url + needs_link)
        assert page.locator("#service_id").input_value() == world.service["慢病随访"]
        assert page.locator("#provider_id").input_value() == world.provider["李医生"]
        assert page.locator("#capacity").input_value() == "3"
        page.screenshot(path=str(screenshots / f"{kind}-{lang}-insight-create.png"), full_page=True)
        context.close()
