"""电话预约 in real headless Chromium, in Chinese and English, on SQLite and PostgreSQL: a reviewer finds a caller by
ID number, a refusal comes back as a form error in their language with what was typed kept, then the booking is made
and its code shown. Screenshots of each step (`$CUNZHAN_SCREENSHOTS/console` to keep them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.console_client import STAFF_PASSWORD, id_number

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# What each language says, so the test reads the page a staff member reads.
WORDS = {
    "zh_CN": {
        "heading": "电话预约",
        "new": "本乡镇还没有该居民的记录",
        "full": "该场次已满",
        "booked": "已预约",
    },
    "en": {
        "heading": "Book for a caller",
        "new": "New to the township",
        "full": "That session is full",
        "booked": "Booked.",
    },
}


def _fits(page: Any) -> None:
    assert page.locator("h1").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    menu_top = page.evaluate("[...document.querySelectorAll('nav a')].map(a => a.offsetTop)")
    assert len(set(menu_top)) == 1, menu_top


def test_booking_a_caller_in_the_console_in_both_languages(
    console_backend: Any, chromium: Any, screenshots: Path
) -> None:
    kind, base = console_backend.kind, console_backend.url
    kiosk = console_backend.enroll("上坪村便民服务站")
    full = console_backend.new_session(capacity=1)
    console_backend.enroll("下坪村便民服务站")  # a second kiosk to choose from
    assert kiosk.book(full)["outcome"] == "applied"  # the session is now full
    open_session = console_backend.new_session(capacity=4)
    for n, lang in enumerate(("zh_CN", "en")):
        words = WORDS[lang]
        context = chromium.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.goto(base + f"/console/lang/{lang}?next=/console/signin")
        page.fill("#username", "shenhe")
        page.fill("#password", STAFF_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/console/")
        page.click("main a[href='/console/phone']")  # from the Today page
        assert page.locator("h1").inner_text() == words["heading"]
        _fits(page)
        page.screenshot(path=str(screenshots / f"{kind}-{lang}-phone.png"), full_page=True)

        caller = id_number(960 + n)
        page.fill("#id_number", caller)
        page.click("button[value=find]")
        assert words["new"] in page.locator("#found").inner_text()
        page.fill("#name", "王秀英")
        page.fill("#phone", "13912345678")
        page.fill("#village", "上坪村")
        page.select_option("#kiosk", kiosk.device_id)
        page.select_option("#session", full)
        page.click("button[value=book]")
        assert words["full"] in page.locator("#session-error").inner_text()
        assert page.input_value("#name") == "王秀英" and page.input_value("#id_number") == caller
        _fits(page)
        page.screenshot(path=str(screenshots / f"{kind}-{lang}-phone-refused.png"), full_page=True)

        page.select_option("#session", open_session)
        page.click("button[value=book]")
        assert words["booked"] in page.locator(".notice").inner_text()
        code = page.locator("#booked dd.mono").inner_text()
        assert code.startswith("00-")
        _fits(page)
        page.screenshot(path=str(screenshots / f"{kind}-{lang}-phone-booked.png"), full_page=True)
        page.click("#booked a")
        assert code in page.locator("h1").inner_text()
        assert "13912345678" not in page.content()  # the booking page masks the number
        context.close()
