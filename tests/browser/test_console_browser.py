"""The console in real headless Chromium against a real backend, on SQLite and PostgreSQL.

The whole path of a reviewed booking: an administrator signs in and publishes a session; a kiosk store (the kiosk
core: `Store` + `kiosk.booking.Bookings`) learns it on its pull, books it and pushes the booking through the real
sync API with `kiosk.sync.engine`; a reviewer sees it in the queue, confirms it in the browser, and the kiosk learns
the new status on its next pull. Then every console page is opened and photographed in Chinese and English.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cunzhan.demo import ZONE
from tests.browser.console_client import STAFF_PASSWORD, id_number
from township import db

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(base + "/console/signin")
    page.fill("#username", username)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/console/")


def _kiosk(backend: Any, store: Any) -> tuple[Any, int]:
    """Enrol `store` as a kiosk and return its sync engine and kiosk number."""
    from kiosk.sync.client import TownshipClient
    from kiosk.sync.engine import SyncEngine

    enrolled = backend.enroll("上坪村便民服务站")
    store.set_state("kiosk_number", str(enrolled.kiosk_number))
    client = TownshipClient(backend.url, enrolled.token)
    return SyncEngine(store, client, enrolled.device_id), enrolled.kiosk_number


def test_publish_book_confirm_and_the_kiosk_learns_it(
    console_backend: Any, chromium: Any, store: Any, screenshots: Path
) -> None:
    from cunzhan.models import BookingStatus, Resident
    from kiosk.booking import Bookings
    from kiosk.store import new_id

    base = console_backend.url
    kind = console_backend.kind
    engine, kiosk_number = _kiosk(console_backend, store)
    assert engine.sync_once().ok
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()

    # An administrator publishes a session of a reviewed service (慢病随访) at a time no demo session uses.
    _sign_in(page, base, "guanli")
    assert "乡镇便民服务管理台" in page.content()
    page.click("text=排班")
    page.click("text=新建场次")
    day = (dt.datetime.now(ZONE).date() + dt.timedelta(days=2)).isoformat()
    page.select_option("#service_id", label="慢病随访（高血压、糖尿病）")
    page.select_option("#provider_id", label="李秀兰 · 内科副主任医师")
    page.fill("#day", day)
    page.fill("#start", "07:30")
    page.fill("#minutes", "40")
    page.fill("#capacity", "3")
    page.fill("#room", "远程诊室二")
    page.fill("#video_url", "https://meet.qingshan.example/chronic-extra")
    page.screenshot(path=str(screenshots / f"{kind}-01-new-session.png"), full_page=True)
    page.click("main button[type=submit]")
    page.wait_for_selector(".notice.ok")
    assert "场次已创建" in page.inner_text(".notice.ok")
    session_id = page.url.split("/console/sessions/")[1].split("?")[0]
    page.screenshot(path=str(screenshots / f"{kind}-02-published.png"), full_page=True)

    # The kiosk learns the session through the change log, books it for a resident, and pushes the booking.
    report = engine.sync_once()
    assert report.ok, report.error
    session = store.session(session_id)
    assert session is not None and session.capacity == 3 and session.room == "远程诊室二"
    resident = Resident(
        id=new_id(), name="王秀英", id_number=id_number(42), phone="13912345678", village="上坪村"
    )
    booking = Bookings(store, kiosk_number=kiosk_number).book(session_id=session_id, resident=resident)
    assert booking.status is BookingStatus.REQUESTED
    report = engine.sync_once()
    assert report.ok and report.applied == 1, report
    pushed = store.booking(booking.id)
    assert pushed is not None and pushed.status is BookingStatus.PENDING_REVIEW

    # A reviewer sees it in the queue (masked) and confirms it.
    page.click("form[action='/console/signout'] button")
    page.wait_for_url(base + "/console/signin?done=signed_out")
    _sign_in(page, base, "shenhe")
    page.click("nav >> text=审核")
    row = page.locator(f"#booking-{booking.id}")
    assert row.count() == 1
    text = row.inner_text()
    assert "王秀英" in text and "139****5678" in text and resident.id_number not in page.content()
    assert "待审核" in text
    page.screenshot(path=str(screenshots / f"{kind}-03-review-queue.png"), full_page=True)
    row.locator("button:has-text('确认')").click()
    page.wait_for_selector(".notice.ok")
    assert "预约已确认" in page.inner_text(".notice.ok")
    assert page.locator(f"#booking-{booking.id}").count() == 0  # it left the queue
    page.screenshot(path=str(screenshots / f"{kind}-04-confirmed.png"), full_page=True)

    # The kiosk learns the decision on its next pull.
    report = engine.sync_once()
    assert report.ok, report.error
    learned = store.booking(booking.id)
    assert learned is not None and learned.status is BookingStatus.CONFIRMED
    with console_backend.database.read() as conn:
        told = conn.execute(
            sa.select(db.bookings.c.message).where(db.bookings.c.id == booking.id)
        ).scalar_one()
    assert learned.message == told and told  # the staff decision's message reached the kiosk

    # The day view shows the booking as confirmed, with the audit trail on the booking page.
    page.goto(base + f"/console/sessions/{session_id}")
    assert "已确认" in page.locator(f"#booking-{booking.id}").inner_text()
    page.goto(base + f"/console/bookings/{booking.id}")
    assert "shenhe" in page.content()
    with console_backend.database.read() as conn:
        audit = (
            conn.execute(sa.select(db.staff_audit.c.action).where(db.staff_audit.c.target == booking.code))
            .scalars()
            .all()
        )
    assert "booking_confirmed" in audit
    context.close()


PAGES = [
    "/console/",
    "/console/review?status=",
    "/console/waitlist",
    "/console/schedule",
    "/console/sessions/new",
    "/console/services",
    "/console/holidays",
    "/console/kiosks",
    "/console/notices",
    "/console/sms",
    "/console/reports",
    "/console/audit",
]


def test_every_page_in_both_languages_fits_and_has_a_heading(
    console_backend: Any, chromium: Any, screenshots: Path
) -> None:
    kind = console_backend.kind
    # Something on every page: a reviewed booking, a waitlisted one, a kiosk with a wrong clock.
    session_id = console_backend.new_session(capacity=1, review=True)
    kiosk = console_backend.enroll("河口村便民服务站")
    from tests.browser.console_client import booking_op

    results = kiosk.push_ok(
        [
            booking_op(session_id, device_seq=kiosk.next_seq(), code="SHOT0001", number=id_number(900)),
            booking_op(
                session_id,
                device_seq=kiosk.next_seq(),
                code="SHOT0002",
                number=id_number(901),
                waitlist=True,
                name="李德明",
            ),
        ]
    )
    assert [r["booking"]["status"] for r in results] == ["pending_review", "waitlisted"]
    for lang in ("zh_CN", "en"):
        context = chromium.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.goto(console_backend.url + f"/console/lang/{lang}?next=/console/signin")
        page.screenshot(path=str(screenshots / f"{kind}-{lang}-signin.png"), full_page=True)
        _sign_in(page, console_backend.url, "guanli")
        pages = [
            *PAGES,
            f"/console/sessions/{session_id}",
            f"/console/bookings/{results[0]['booking']['id']}",
        ]
        for path in pages:
            response = page.goto(console_backend.url + path)
            assert response is not None and response.status == 200, path
            assert page.locator("h1").count() == 1, path
            # Nothing spills sideways at a hall PC's width (tables scroll inside their own box if they must).
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (path, overflow)
            # The menu stays on one line, so it is always in the same place.
            menu_top = page.evaluate("[...document.querySelectorAll('nav a')].map(a => a.offsetTop)")
            assert len(set(menu_top)) == 1, (path, menu_top)
            name = path.strip("/").replace("/", "_").split("?")[0] or "home"
            page.screenshot(path=str(screenshots / f"{kind}-{lang}-{name}.png"), full_page=True)
        if lang == "zh_CN":
            assert "候补名单" in page.goto(console_backend.url + "/console/waitlist").text()
        context.close()


def test_a_notice_published_in_the_console_reaches_the_kiosk_home_and_goes_away(
    console_backend: Any, chromium: Any, store: Any
) -> None:
    from kiosk.store import utc_now

    engine, _number = _kiosk(console_backend, store)
    assert engine.sync_once().ok
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    _sign_in(page, console_backend.url, "guanli")
    page.click("nav >> text=村站终端")
    page.click("text=发给村站终端的通知")
    assert (
        page.locator("h1").inner_text() == "发给村站终端的通知" and "村站终端上现在没有通知" in page.content()
    )
    page.fill("#ntitle", "")
    page.fill("#nbody", "x" * 10)
    page.evaluate("document.querySelector('#ntitle').removeAttribute('required')")  # the server checks too
    page.click("text=发布 >> nth=-1")
    assert (
        "请给通知写一个简短的标题" in page.content() and page.input_value("#nbody") == "x" * 10
    )  # nothing lost
    page.fill("#ntitle", "周四门诊调整")
    page.fill("#nbody", "李医生周四休息，高血压随访改到周五上午。")
    page.click("button:has-text('发布')")
    page.wait_for_url(
        "**done=notice_posted**"
    )  # the post's redirect, then the page it lands on, fully loaded
    page.wait_for_load_state()
    assert "通知已发布" in page.content() and "周四门诊调整" in page.content()

    assert engine.sync_once().ok  # the kiosk's next pull
    assert store.current_notices(utc_now()) == [
        {"title": "周四门诊调整", "body": "李医生周四休息，高血压随访改到周五上午。"}
    ]

    page.click("button:has-text('撤下')")
    page.locator("text=通知已撤下").wait_for()  # the redirect's page, loaded
    assert "通知已撤下" in page.content() and "村站终端上现在没有通知" in page.content()
    assert engine.sync_once().ok
    assert store.current_notices(utc_now()) == []
    context.close()
