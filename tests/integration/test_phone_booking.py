"""电话预约 (issue 16): township staff book a session in the console for a resident who phoned; the kiosk of the
resident's village receives it at its next pull, the resident finds it there by typing their ID number and checks
in. The same rules as a kiosk's booking; no other kiosk, of this township or another, ever sees it. Real kiosk
stores and sync engine, the real backend over HTTP on 127.0.0.1, SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cunzhan.models import BookingStatus, Resident
from kiosk.booking import BookingRefused, Bookings, Refusal
from tests.browser.console_client import STAFF_PASSWORD, ConsoleClient
from tests.integration.conftest import unique_id_number
from tests.integration.sync_kiosks import KioskSim
from township import db, services

OTHER_TOWNSHIP = "phone-other"


@pytest.fixture
def reviewer(any_backend: Any) -> ConsoleClient:
    try:
        any_backend.create_staff("dianhua", "reviewer", STAFF_PASSWORD)
    except Exception:  # already made for this module's backend by an earlier test
        pass
    client = ConsoleClient(any_backend.url)
    assert client.sign_in("dianhua", township="demo").status_code == 200
    assert client.get("/console/phone").status_code == 200
    return client


def _kiosk(backend: Any, root: Path, name: str, township: str = "demo") -> KioskSim:
    kiosk = KioskSim(root, name)
    kiosk.enroll(backend.url, backend.enrollment_code(township))
    kiosk.sync_until_ok(kiosk.engine())
    return kiosk


def _book(client: ConsoleClient, **fields: str) -> Any:
    form = {"id_number": "", "name": "", "phone": "", "village": "", "kiosk": "", "session": ""} | fields
    response = client.post("/console/phone", form)
    client.csrf = re.search(r'name="csrf_token" value="([^"]+)"', response.text).group(1)  # type: ignore[union-attr]
    return response


def _booking_row(backend: Any, code: str) -> Any:
    with backend.database.read() as conn:
        return conn.execute(sa.select(db.bookings).where(db.bookings.c.code == code)).one()


def _code(response: Any) -> str:
    found = re.search(r'id="booked".*?<dd class="mono">([0-9-]+)</dd>', response.text, re.S)
    assert found is not None, response.text
    return found.group(1).replace("-", "")


def test_a_phone_booking_reaches_the_village_kiosk_and_checks_in_there_only(
    any_backend: Any, reviewer: ConsoleClient, tmp_path: Path
) -> None:
    services.create_township(any_backend.database, OTHER_TOWNSHIP, "别的镇")
    village = _kiosk(any_backend, tmp_path, "上坪村服务站")
    neighbour = _kiosk(any_backend, tmp_path, "下坪村服务站")
    elsewhere = _kiosk(any_backend, tmp_path, "别镇服务站", OTHER_TOWNSHIP)
    session = any_backend.new_session(capacity=3, starts_in=dt.timedelta(minutes=60))
    number = unique_id_number()

    booked = _book(
        reviewer,
        id_number=number.lower(),
        name="电话居民",
        phone="139 1234 5678",
        village="上坪村",
        kiosk=str(village.store.state("device_id")),
        session=session,
    )
    assert booked.status_code == 200, booked.text
    code = _code(booked)
    assert code.startswith("00") and len(code) == 8
    row = _booking_row(any_backend, code)
    assert (row.status, row.channel, row.device_id) == (
        "confirmed",
        "phone",
        village.store.state("device_id"),
    )
    assert (row.consent_notice, row.staff_id, row.contact_village) == ("phone", "dianhua", "上坪村")
    # The booking's page says how consent was given, and by whom.
    page = reviewer.get(f"/console/bookings/{row.id}")
    assert "Agreed by phone, to staff member dianhua" in page.text
    # A confirmation text is queued, as for any confirmed booking with a number.
    with any_backend.database.read() as conn:
        kinds = conn.execute(
            sa.select(db.notifications.c.kind).where(db.notifications.c.booking_id == row.id)
        ).scalars()
        assert list(kinds) == ["confirmed"]
        audit = conn.execute(
            sa.select(db.staff_audit.c.who, db.staff_audit.c.detail).where(
                db.staff_audit.c.action == "booking_by_phone", db.staff_audit.c.target == code
            )
        ).one()
        logged = conn.execute(
            sa.select(db.changes.c.scope, db.changes.c.data).where(
                db.changes.c.entity == "booking", db.changes.c.entity_id == row.id
            )
        ).all()
        blind = conn.execute(
            sa.select(db.residents.c.id_blind).where(db.residents.c.id == row.resident_id)
        ).scalar_one()
    assert audit.who == "dianhua" and "电话居民" not in str(audit.detail) and number not in str(audit.detail)
    # The change goes to the village kiosk only and carries no personal data: a match, not the number or hash.
    assert [r.scope for r in logged] == [village.store.state("device_id")]
    data = logged[0].data
    assert set(data) == {"id", "status", "code", "session_id", "version", "message", "match"}
    assert data["match"] != blind and not [p for p in (number, "电话居民", "13912345678") if p in str(data)]

    for kiosk in (village, neighbour, elsewhere):
        kiosk.sync_until_ok(kiosk.engine())
    # Only the village kiosk holds it, waiting for its resident; the others never heard of it.
    assert neighbour.store.booking(row.id) is None and neighbour.store.match_key() is None
    assert elsewhere.store.booking(row.id) is None and elsewhere.store.match_key() is None
    held = village.store.booking(row.id)
    assert held is not None and held.status is BookingStatus.CONFIRMED and held.code == code
    # Nothing in the kiosk's database names the resident before they come.
    raw = b"".join(p.read_bytes() for p in village.data_dir.glob("kiosk.db*"))
    assert number.encode() not in raw and "电话居民".encode() not in raw
    # The neighbouring kiosk's resident lookup for the same number finds nothing (and claims nothing).
    assert neighbour.store.find_resident(number) is None

    # The resident comes to their village kiosk and types their ID number: the booking is theirs.
    resident = village.store.find_resident(number)
    assert resident is not None and resident.id_number == number
    assert [b.id for b in village.store.bookings_for_resident(resident.id)] == [row.id]
    # The kiosk's own rule now applies to them: no second booking of the same session here.
    with pytest.raises(BookingRefused) as refused:
        Bookings(village.store).book(session_id=session, resident=resident, now=village.clock())
    assert refused.value.reason is Refusal.DUPLICATE
    checked = Bookings(village.store).check_in(row.id, now=village.clock())
    assert checked.status is BookingStatus.CHECKED_IN
    village.sync_until_ok(village.engine())
    assert _booking_row(any_backend, code).status == "checked_in"

    # Another kiosk booking the same person for the same session is refused by the township as a duplicate.
    other = neighbour.book(session, number)
    assert other is not None
    neighbour.sync_until_ok(neighbour.engine())
    assert neighbour.store.booking(other.id).status is BookingStatus.REJECTED  # type: ignore[union-attr]
    for kiosk in (village, neighbour, elsewhere):
        kiosk.close()


def test_phone_bookings_follow_the_booking_rules(
    any_backend: Any, reviewer: ConsoleClient, tmp_path: Path
) -> None:
    village = _kiosk(any_backend, tmp_path, "中坪村服务站")
    kiosk_id = str(village.store.state("device_id"))
    session = any_backend.new_session(capacity=1)
    first, second, third = unique_id_number(), unique_id_number(), unique_id_number()
    ok = _book(reviewer, id_number=first, name="甲", kiosk=kiosk_id, session=session)
    assert ok.status_code == 200
    # The same person again: refused, nothing booked.
    again = _book(reviewer, id_number=first, name="甲", kiosk=kiosk_id, session=session)
    assert again.status_code == 400 and "already has a booking for that session" in again.text
    # Full: refused with the reason; with the waiting list ticked, waitlisted.
    full = _book(reviewer, id_number=second, name="乙", kiosk=kiosk_id, session=session)
    assert full.status_code == 400 and "That session is full" in full.text
    waiting = _book(reviewer, id_number=second, name="乙", kiosk=kiosk_id, session=session, waitlist="yes")
    assert waiting.status_code == 200 and _booking_row(any_backend, _code(waiting)).status == "waitlisted"
    with any_backend.database.read() as conn:  # unmet demand, as for a kiosk's waitlisted booking
        reasons = conn.execute(
            sa.select(db.unmet_demand.c.reason).where(db.unmet_demand.c.session_id == session)
        ).scalars()
        assert list(reasons) == ["waitlisted"]
    # Bad input comes back as form errors, with what was typed kept.
    bad = _book(reviewer, id_number="110101195001011234", name="丙", kiosk=kiosk_id, session=session)
    assert bad.status_code == 400 and "does not match the others" in bad.text and 'value="丙"' in bad.text
    phone = _book(reviewer, id_number=third, name="丙", phone="12345", kiosk=kiosk_id, session=session)
    assert phone.status_code == 400 and "11 digits" in phone.text
    nameless = _book(reviewer, id_number=third, kiosk=kiosk_id, session=session)
    assert nameless.status_code == 400 and "new to the township: please enter the resident" in nameless.text
    no_kiosk = _book(reviewer, id_number=third, name="丙", kiosk=str(uuid.uuid4()), session=session)
    assert no_kiosk.status_code == 400 and "Choose the kiosk" in no_kiosk.text
    # A service that needs review: the booking waits for it (and holds its seat), no text is sent yet.
    reviewed = any_backend.new_session(capacity=2, review=True)
    pending = _book(
        reviewer, id_number=third, name="丙", phone="13912345678", kiosk=kiosk_id, session=reviewed
    )
    row = _booking_row(any_backend, _code(pending))
    assert row.status == "pending_review"
    with any_backend.database.read() as conn:
        assert not conn.execute(
            sa.select(db.notifications).where(db.notifications.c.booking_id == row.id)
        ).all()
    # A holiday on the session's day: refused.
    holiday = any_backend.new_session(capacity=2, starts_in=dt.timedelta(days=9))
    with any_backend.database.read() as conn:
        starts = conn.execute(
            sa.select(db.sessions.c.starts_at).where(db.sessions.c.id == holiday)
        ).scalar_one()
    admin_id = _staff_id(any_backend, "phone-admin", "admin")
    day = db.utc(starts).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    services.add_holiday(any_backend.database, day, "测试假日", staff_id=admin_id)
    closed = _book(reviewer, id_number=third, name="丙", kiosk=kiosk_id, session=holiday)
    assert closed.status_code == 400 and "is on a holiday (测试假日)" in closed.text
    # Without the CSRF token nothing is booked.
    before = _count_bookings(any_backend)
    refused = reviewer.post(
        "/console/phone", {"id_number": third, "name": "丙", "kiosk": kiosk_id, "session": session}, csrf=""
    )
    assert refused.status_code == 403 and _count_bookings(any_backend) == before
    # A resident the kiosk already knows: the phone booking joins their record there.
    mine = any_backend.new_session(capacity=2)
    village.sync_until_ok(village.engine())
    fourth = unique_id_number()
    known = Bookings(village.store).book(
        session_id=mine,
        resident=Resident(str(uuid.uuid4()), "丁", fourth, None, "中坪村"),
        now=village.clock(),
    )
    village.sync_until_ok(village.engine())
    later = any_backend.new_session(capacity=2, starts_in=dt.timedelta(days=4))
    assert (
        _book(reviewer, id_number=fourth, kiosk=kiosk_id, session=later).status_code == 200
    )  # name from record
    village.sync_until_ok(village.engine())
    resident = village.store.find_resident(fourth)
    assert resident is not None and resident.id == known.resident_id and resident.name == "丁"
    assert len(village.store.bookings_for_resident(resident.id)) == 2
    village.close()


def test_a_provider_account_cannot_book_by_phone(any_backend: Any) -> None:
    session_id = any_backend.new_session(capacity=3)
    with any_backend.database.read() as conn:
        provider_id = conn.execute(
            sa.select(db.sessions.c.provider_id).where(db.sessions.c.id == session_id)
        ).scalar_one()
    name = f"doctor-{uuid.uuid4().hex[:6]}"
    services.create_staff(
        any_backend.database, "demo", name, services.PROVIDER, STAFF_PASSWORD, provider_id=provider_id
    )
    client = ConsoleClient(any_backend.url)
    assert client.sign_in(name, township="demo").status_code == 200
    assert client.get("/console/phone").status_code == 403


def _staff_id(backend: Any, username: str, role: str) -> str:
    try:
        return str(backend.create_staff(username, role, STAFF_PASSWORD))
    except services.ServiceError:
        with backend.database.read() as conn:
            return str(
                conn.execute(
                    sa.select(db.staff_users.c.id).where(db.staff_users.c.username == username)
                ).scalar_one()
            )


def _count_bookings(backend: Any) -> int:
    with backend.database.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(db.bookings)).scalar_one())


def test_staff_cancel_a_booking_when_the_resident_phones_and_the_seat_goes_on(
    any_backend: Any, reviewer: ConsoleClient, tmp_path: Path
) -> None:
    """A resident phones to cancel: staff cancel the booking on its page, whichever kiosk made it; the seat goes to
    the waiting list, the kiosk shows it cancelled at its next pull; no text is sent. Refused (409, nothing
    changed) once the resident has checked in, and for a session that has started."""
    kiosk = _kiosk(any_backend, tmp_path, "取消测试站")
    session = any_backend.new_session(capacity=1, starts_in=dt.timedelta(hours=3))
    engine = kiosk.engine()
    kiosk.sync_until_ok(engine)
    first = kiosk.book(session, unique_id_number())
    waiting = kiosk.book(session, unique_id_number(), waitlist=True)
    assert first is not None and waiting is not None
    kiosk.sync_until_ok(engine)
    assert kiosk.store.booking(waiting.id).status is BookingStatus.WAITLISTED  # type: ignore[union-attr]
    page = reviewer.get(f"/console/bookings/{first.id}")
    assert "Cancel booking at the resident" in page.text
    done = reviewer.post(f"/console/bookings/{first.id}/cancel", {"back": f"/console/bookings/{first.id}"})
    assert done.status_code == 200 and "Booking cancelled" in done.text, done.text
    with any_backend.database.read() as conn:
        statuses = dict(
            conn.execute(
                sa.select(db.bookings.c.id, db.bookings.c.status).where(db.bookings.c.session_id == session)
            ).all()
        )
        texts = conn.execute(
            sa.select(sa.func.count()).where(
                db.notifications.c.booking_id == first.id, db.notifications.c.kind != "confirmed"
            )
        ).scalar_one()
        audit = conn.execute(
            sa.select(db.staff_audit.c.who).where(
                db.staff_audit.c.action == "booking_cancelled", db.staff_audit.c.target == first.code
            )
        ).scalar_one()
    assert statuses == {first.id: "cancelled", waiting.id: "confirmed"}  # the seat went to the waiting list
    assert texts == 0 and audit == "dianhua"
    kiosk.sync_until_ok(engine)
    cancelled = kiosk.store.booking(first.id)
    assert cancelled is not None and cancelled.status is BookingStatus.CANCELLED
    assert "as you asked" in cancelled.message or "按您的要求" in cancelled.message
    assert kiosk.store.booking(waiting.id).status is BookingStatus.CONFIRMED  # type: ignore[union-attr]

    # Once the resident has checked in, or the session has started, the page refuses and nothing changes.
    Bookings(kiosk.store).check_in(waiting.id, now=kiosk.clock() + dt.timedelta(hours=3))
    kiosk.sync_until_ok(engine)
    refused = reviewer.post(f"/console/bookings/{waiting.id}/cancel", {})
    assert refused.status_code == 409 and "cannot be changed" in refused.text
    started = any_backend.new_session(capacity=2, starts_in=dt.timedelta(hours=3))
    kiosk.sync_until_ok(engine)
    late = kiosk.book(started, unique_id_number())
    assert late is not None
    kiosk.sync_until_ok(engine)
    with any_backend.database.write() as conn:
        conn.execute(
            sa.update(db.sessions)
            .where(db.sessions.c.id == started)
            .values(starts_at=db.naive(db.now_utc() - dt.timedelta(minutes=5)))
        )
    refused = reviewer.post(f"/console/bookings/{late.id}/cancel", {})
    assert refused.status_code == 409 and "already started" in refused.text
    assert _booking_row(any_backend, late.code).status == "confirmed"
    kiosk.close()
