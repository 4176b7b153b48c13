"""The roster and calls page (#16) in real headless Chromium, in Chinese and English, on SQLite and PostgreSQL: it
fits a hall PC's screen, keeps the menu on one line, shows numbers and masked names only, and 叫下一位 in the
browser reaches the kiosk's long-poll."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from cunzhan.demo import ZONE
from tests.browser.console_client import STAFF_PASSWORD, booking_op, id_number
from tests.integration.conftest import op
from township import db

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CALL_NEXT = {"zh_CN": "叫下一位", "en": "Call next"}
CALLED = {"zh_CN": "已叫 1 号", "en": "Number 1 called"}


def test_roster_page_in_both_languages_and_a_call_reaches_the_kiosk(
    console_backend: Any, chromium: Any, screenshots: Path
) -> None:
    kind = console_backend.kind
    kiosk = console_backend.enroll("上坪村便民服务站")
    pages: dict[str, str] = {}
    for lang in ("zh_CN", "en"):
        session_id = console_backend.new_session(capacity=6)
        ops = [
            booking_op(
                session_id,
                device_seq=kiosk.next_seq(),
                code=f"RO{lang[:2].upper()}{n:04d}",
                number=id_number(700 + n + (10 if lang == "en" else 0)),
                name=name,
            )
            for n, name in enumerate(("张桂英", "李德明", "王秀兰"))
        ]
        created = kiosk.push_ok(ops)
        ids = [r["booking"]["id"] for r in created]
        check_ins = [
            op("booking", "check_in", booking_id, {"queue_number": n}, device_seq=kiosk.next_seq())
            for n, booking_id in enumerate(ids[:2], start=1)
        ]
        assert [r["outcome"] for r in kiosk.push_ok(check_ins)] == ["applied", "applied"]
        with console_backend.database.read() as conn:
            starts = conn.execute(
                sa.select(db.sessions.c.starts_at).where(db.sessions.c.id == session_id)
            ).scalar_one()
        day = db.utc(starts).astimezone(ZONE).date().isoformat()

        context = chromium.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.goto(console_backend.url + f"/console/lang/{lang}?next=/console/signin")
        page.goto(console_backend.url + "/console/signin")
        page.fill("#username", "shenhe")
        page.fill("#password", STAFF_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(console_backend.url + "/console/")
        response = page.goto(console_backend.url + f"/console/roster?day={day}")
        assert response is not None and response.status == 200
        assert page.locator("h1").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        menu_top = page.evaluate("[...document.querySelectorAll('nav a')].map(a => a.offsetTop)")
        assert len(set(menu_top)) == 1, menu_top
        text = page.content()
        assert "张**" in text and "张桂英" not in text and "李德明" not in text
        assert id_number(700)[:6] not in text and "1391234" not in text  # no ID number, no phone
        page.screenshot(path=str(screenshots / f"{kind}-{lang}-roster.png"), full_page=True)

        after = requests.get(console_backend.url + "/v1/calls", headers=kiosk.headers, timeout=30).json()[
            "last_seq"
        ]
        got: dict[str, Any] = {}

        def hold(after: int = after, got: dict[str, Any] = got) -> None:
            got["body"] = requests.get(
                console_backend.url + "/v1/calls",
                headers=kiosk.headers,
                params={"after": after, "wait": 20},
                timeout=40,
            ).json()
            got["at"] = time.monotonic()

        waiter = threading.Thread(target=hold)
        waiter.start()
        time.sleep(0.5)
        section = page.locator(f"#session-{session_id}")
        clicked = time.monotonic()
        section.locator(f"button:has-text('{CALL_NEXT[lang]}')").click()
        page.wait_for_load_state()
        waiter.join(timeout=30)
        assert [(c["booking_id"], c["queue_number"]) for c in got["body"]["calls"]] == [(ids[0], 1)]
        assert got["at"] - clicked < 5
        assert CALLED[lang] in page.content()
        page.screenshot(path=str(screenshots / f"{kind}-{lang}-roster-called.png"), full_page=True)
        pages[lang] = page.content()
        context.close()
    assert "候诊与叫号" in pages["zh_CN"] and "Roster and calls" in pages["en"]
