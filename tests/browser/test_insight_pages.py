"""The county's view (#18) in real headless Chromium, on SQLite and PostgreSQL, in Chinese and English: the
dashboard, satisfaction, needs profile and evaluation export pages fit a hall PC's width, have one heading, keep the
menu on one line, and every chart is an image with a title whose figures follow it as a table; for a township's
administrator, and for a county administrator over the whole county and through its township filter. Screenshots go
to `$CUNZHAN_SCREENSHOTS/console` (look at them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.browser.console_client import STAFF_PASSWORD
from tests.integration.insight_world import W2, World, build

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


def _sign_in(
    page: Any, base: str, username: str = "zhangs", slug: str = "insight-a", lands: str = "/"
) -> None:
    page.goto(base + "/console/signin")
    page.fill("#username", username)
    page.fill("#password", STAFF_PASSWORD)
    if page.locator("#township").count():
        page.select_option("#township", slug)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/console" + lands)


@pytest.fixture(scope="module")
def world(console_backend: Any) -> Iterator[World]:
    """The test county (townships 甲镇 and 乙镇, each with unmet demand), 甲镇's administrator `zhangs` and the
    county's administrator `xianzhang`."""
    from township import db, services
    from township.insight.unmet import record_unmet

    built = build(console_backend.database)
    with console_backend.database.write() as conn:
        for township, label, village in ((built.a, "a1", "上坪村"), (built.b, "b1", "乙村")):
            session = conn.execute(
                sa.select(db.sessions).where(db.sessions.c.id == built.session[label])
            ).one()
            for _ in range(3 if label == "a1" else 2):
                record_unmet(conn, township, "slot_full", village=village, session=session)
    console_backend.create_staff("zhangs", "admin", STAFF_PASSWORD, township="insight-a")
    services.create_county_admin(console_backend.database, "test-county", "xianzhang", STAFF_PASSWORD)
    yield built


def _check_page(page: Any, lang: str, path: str) -> list[bool]:
    """One heading, no sideways scrolling, the menu on one line with 数据看板 current; every chart an image whose
    table follows it. Returns the charts' checks."""
    assert page.locator("h1").count() == 1, path
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, (lang, path, overflow)
    menu_top = page.evaluate("[...document.querySelectorAll('.topbar nav a')].map(a => a.offsetTop)")
    assert len(set(menu_top)) == 1, (lang, path, menu_top)
    assert page.locator(".topbar nav a[aria-current=page]").get_attribute("href") == "/console/insight"
    charts: list[bool] = page.evaluate(CHARTS_HAVE_TABLES)
    assert all(charts), (lang, path, charts)
    if "/export" not in path:
        assert charts, (lang, path)
    return charts


def test_the_insight_pages_in_both_languages(
    console_backend: Any, chromium: Any, screenshots: Path, world: World
) -> None:
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
            _check_page(page, lang, path)
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


def test_the_county_administrators_view_of_every_township(
    console_backend: Any, chromium: Any, screenshots: Path, world: World
) -> None:
    """The county's administrator: each page over the whole county (both townships named, the township filter
    offered), and narrowed through the filter as a person would, by choosing a township and pressing Show; the
    low ratings without the residents' words or a booking link; a need forwarded to its township in one click."""
    kind = console_backend.kind
    base = console_backend.url
    a, b = world.a, world.b
    pages = [
        ("dashboard", f"/console/insight?until={UNTIL}&weeks=4", "乙镇"),
        (
            "dashboard-villages",
            f"/console/insight?until={UNTIL}&weeks=8&by=village&figure=no_show_rate",
            "上坪村 · 甲镇",
        ),
        ("dashboard-b", f"/console/insight?until={UNTIL}&weeks=4&by=service&township={b}", "乙镇体检"),
        ("satisfaction", f"/console/insight/satisfaction?until={UNTIL}&weeks=4", "乙镇体检"),
        (
            "satisfaction-a",
            f"/console/insight/satisfaction?until={UNTIL}&weeks=4&township={a}&by=village",
            "上坪村",
        ),
        ("needs", f"/console/insight/needs?until={UNTIL}", "乙村"),
        ("needs-a", f"/console/insight/needs?until={UNTIL}&township={a}", "上坪村"),
        ("export", "/console/insight/export", ""),
    ]
    for lang in ("zh_CN", "en"):
        context = chromium.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.goto(base + f"/console/lang/{lang}?next=/console/signin")
        _sign_in(page, base, "xianzhang", "test-county", "/townships")
        for name, path, shown in pages:
            response = page.goto(base + path)
            assert response is not None and response.status == 200, path
            page.screenshot(path=str(screenshots / f"{kind}-{lang}-county-{name}.png"), full_page=True)
            _check_page(page, lang, path)
            text = page.locator("main").inner_text()
            assert shown in text, (lang, name)
            options = page.locator("#township option").all_inner_texts()
            assert sorted(options[1:]) == ["乙镇", "甲镇"], (lang, name, options)  # "all townships" first
            chosen = page.locator("#township").input_value()
            assert chosen == (b if "township=" + b in path else a if "township=" + a in path else ""), name
            if "township=" in path:
                assert ("乙镇" if chosen == b else "甲镇") in page.locator(
                    "main > p.muted"
                ).first.inner_text()
            if name.startswith("satisfaction"):
                assert "医生迟到了一个小时" not in text and "乙镇的评论" not in text
                assert page.locator("a[href^='/console/bookings/']").count() == 0
                assert page.locator("textarea[name=note]").count() == 0
            if name.startswith("needs"):  # the forward buttons fit: the table does not scroll sideways
                wide = page.evaluate(
                    "[...document.querySelectorAll('.table-wrap')].map(w => w.scrollWidth - w.clientWidth)"
                )
                assert max(wide) <= 0, (lang, name, wide)
            if name == "needs":
                assert page.locator("a[href^='/console/sessions/new']").count() == 0
                assert page.locator("form[action='/console/insight/needs/forward'] button").count() == 2
        # The filter as a person uses it: choose 乙镇 on the dashboard, press Show.
        page.goto(base + f"/console/insight?until={UNTIL}&weeks=4")
        page.select_option("#township", b)
        page.locator("form.filters button[type=submit]").click()
        page.wait_for_load_state()
        assert f"township={b}" in page.url and "乙镇" in page.locator("main > p.muted").first.inner_text()
        assert "甲镇" not in " ".join(page.locator("main table").all_inner_texts())
        if lang == "en":  # forward 甲镇's need once; the page says so, and who did it
            page.goto(base + f"/console/insight/needs?until={UNTIL}")
            page.locator("form[action='/console/insight/needs/forward'] button", has_text="甲镇").click()
            page.wait_for_load_state()
            assert "Forwarded." in page.locator("main").inner_text()
            assert "by xianzhang" in page.locator("main").inner_text()
            page.screenshot(
                path=str(screenshots / f"{kind}-{lang}-county-needs-forwarded.png"), full_page=True
            )
            _check_page(page, lang, "/console/insight/needs")
        context.close()
    # 甲镇's administrator: the tile on the start page, the forwarded need on top of the needs page.
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(base + "/console/lang/zh_CN?next=/console/signin")
    _sign_in(page, base)
    assert "条县里转交的需求" in page.locator(".tiles").inner_text()
    page.goto(base + f"/console/insight/needs?until={UNTIL}")
    page.screenshot(path=str(screenshots / f"{kind}-zh_CN-township-needs-forwarded.png"), full_page=True)
    _check_page(page, "zh_CN", "/console/insight/needs")
    section = page.locator("section[aria-labelledby=referred-heading]")
    assert "县里转交的需求" in section.inner_text() and "xianzhang" in section.inner_text()
    assert section.locator("a[href^='/console/sessions/new?']").count() == 1
    context.close()
