"""Reaching the resident (#16, #18), kiosk to backend over real HTTP on both databases: a phone given at the kiosk
with its agreement to reminders is stored sealed with that agreement and texted; one without it (a kiosk that sent a
number the resident did not agree to be texted at) is not; staff-entered numbers still are."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cunzhan.models import Resident
from kiosk.booking import REMINDER_NOTICE, Bookings
from tests.integration.conftest import Backend, unique_id_number
from tests.integration.sync_kiosks import KioskSim
from township.notify.messages import Kind

pytestmark = pytest.mark.usefixtures("keyring_ready")

PHONE = "13912345678"


def _row(backend: Backend, booking_id: str) -> Any:
    from township import db

    with backend.database.read() as conn:
        return conn.execute(sa.select(db.bookings).where(db.bookings.c.id == booking_id)).one()


def _queue(backend: Backend, booking_id: str) -> bool:
    from township.notify import outbox

    with backend.database.write() as conn:
        return outbox.queue(conn, _row(backend, booking_id), Kind.CONFIRMED, occasion="reach")


def test_a_number_given_at_the_kiosk_with_consent_reaches_the_outbox(
    any_backend: Backend, tmp_path: Path
) -> None:
    from cunzhan.fieldcrypto import field_ref
    from township.keys import cipher_for

    kiosk = KioskSim(tmp_path, "reach")
    kiosk.enroll(any_backend.url, any_backend.enrollment_code())
    session = any_backend.new_session()
    engine = kiosk.engine()
    kiosk.sync_until_ok(engine)
    at = dt.datetime.now(dt.UTC)
    agreed = Resident(
        "r1", "张桂兰", unique_id_number(), PHONE, "上坪村", reminder_owner="family", reminder_at=at
    )
    silent = Resident("r2", "李秀英", unique_id_number(), "13800138000", "上坪村")  # no agreement kept
    rules = Bookings(kiosk.store)
    with_consent = rules.book(session_id=session, resident=agreed)
    without = rules.book(session_id=session, resident=silent)
    kiosk.sync_until_ok(engine)

    row = _row(any_backend, with_consent.id)
    assert (
        row.reminder_notice == REMINDER_NOTICE
        and row.reminder_owner == "family"
        and row.reminder_at is not None
    )
    assert PHONE not in str(row.contact_phone_enc)  # sealed at rest, as phones are
    with any_backend.database.read() as conn:
        opened = cipher_for(conn).decrypt(
            row.contact_phone_enc, where=field_ref("bookings", "contact_phone_enc", with_consent.id)
        )
    assert opened == PHONE
    assert _queue(any_backend, with_consent.id)
    other = _row(any_backend, without.id)
    assert other.reminder_notice is None and other.contact_phone_enc is not None  # kept for staff to call
    assert not _queue(any_backend, without.id)  # never texted
    kiosk.close()


def test_reminders_go_only_to_numbers_given_with_consent_or_by_staff(any_backend: Backend) -> None:
    from township.notify import outbox

    kiosk = any_backend.enroll()
    soon = dt.timedelta(hours=20)
    agreed = kiosk.book(any_backend.new_session(starts_in=soon), phone=PHONE)["booking"]["id"]
    silent = kiosk.book(any_backend.new_session(starts_in=soon), phone=PHONE, reminders=None)["booking"]["id"]
    staff = kiosk.book(
        any_backend.new_session(starts_in=soon), phone=PHONE, reminders=None, channel="assisted"
    )
    staffed = staff["booking"]["id"]
    from township import db

    ids = [agreed, silent, staffed]
    with any_backend.database.write() as conn:
        # confirmed, as after review
        conn.execute(sa.update(db.bookings).where(db.bookings.c.id.in_(ids)).values(status="confirmed"))
        outbox.queue_reminders(conn)
        found = conn.execute(
            sa.select(db.notifications.c.booking_id).where(db.notifications.c.booking_id.in_(ids))
        )
        queued = {r.booking_id for r in found}
    assert queued == {agreed, staffed}


def test_a_search_that_found_no_session_is_counted_in_the_needs_profile(
    any_backend: Backend, tmp_path: Path
) -> None:
    from kiosk.demand import record_no_session
    from township import db
    from township.insight.needs import needs_profile
    from township.insight.scope import Scope

    with any_backend.database.read() as conn:
        service_id = conn.execute(
            sa.select(db.sessions.c.service_id).where(db.sessions.c.id == any_backend.new_session())
        ).scalar_one()
    kiosk = KioskSim(tmp_path, "demand")
    kiosk.enroll(any_backend.url, any_backend.enrollment_code())
    engine = kiosk.engine()
    for _ in range(3):
        record_no_session(kiosk.store, service_id=service_id, village="石桥村")
    record_no_session(kiosk.store, service_id=str(uuid.uuid4()), village="石桥村")  # not this township's
    kiosk.sync_until_ok(engine)
    states = {r["entity_id"]: r["state"] for r in kiosk.store.query("SELECT entity_id, state FROM outbox")}
    assert sorted(states.values()) == ["done", "done", "done", "rejected"]

    u = db.unmet_demand
    with any_backend.database.read() as conn:
        found = conn.execute(sa.select(u).where(u.c.service_id == service_id)).all()
        needs = needs_profile(conn, Scope.township(any_backend.township_id()), weeks=1)
    assert (
        len(found) == 3
        and {r.reason for r in found} == {"no_session"}
        and {r.village for r in found} == {"石桥村"}
    )
    assert all(r.session_id is None and r.at.minute == 0 for r in found)  # to the hour, no person, no session
    [need] = [n for n in needs if n.service_id == service_id]
    assert need.no_session == 3 and need.village == "石桥村" and need.total == 3
    kiosk.close()


def test_a_full_time_touched_at_the_kiosk_is_counted_in_the_needs_profile(
    any_backend: Backend, tmp_path: Path
) -> None:
    from kiosk.demand import record_slot_full
    from township import db
    from township.insight.needs import needs_profile
    from township.insight.scope import Scope

    session_id = any_backend.new_session()
    with any_backend.database.read() as conn:
        session = conn.execute(sa.select(db.sessions).where(db.sessions.c.id == session_id)).one()
    kiosk = KioskSim(tmp_path, "full")
    kiosk.enroll(any_backend.url, any_backend.enrollment_code())
    engine = kiosk.engine()
    record_slot_full(kiosk.store, session_id=session_id, village="石桥村")
    record_slot_full(kiosk.store, session_id=session_id, village="石桥村")
    record_slot_full(kiosk.store, session_id=str(uuid.uuid4()), village="石桥村")  # not this township's
    kiosk.sync_until_ok(engine)
    states = sorted(r["state"] for r in kiosk.store.query("SELECT state FROM outbox WHERE entity = 'demand'"))
    assert states == ["done", "done", "rejected"]

    u = db.unmet_demand
    with any_backend.database.read() as conn:
        found = conn.execute(sa.select(u).where(u.c.session_id == session_id)).all()
        needs = needs_profile(conn, Scope.township(any_backend.township_id()), weeks=3)
    assert len(found) == 2 and {r.reason for r in found} == {"slot_full"}
    assert {(r.service_id, r.provider_id, r.village) for r in found} == {
        (session.service_id, session.provider_id, "石桥村")
    }
    assert all(r.at.minute == 0 for r in found)  # to the hour, no person
    [need] = [n for n in needs if n.service_id == session.service_id and n.village == "石桥村"]
    assert need.slot_full == 2 and need.total == 2
    # A touch the kiosk says came after the session began is no demand (no kiosk offers a session then).
    from tests.integration.conftest import op

    raw = any_backend.enroll("late")
    late = dt.datetime.now(dt.UTC).replace(microsecond=0)
    late = max(late, db.utc(session.starts_at)) + dt.timedelta(hours=1)
    payload = {"session_id": session_id, "village": "石桥村", "at": late.isoformat()}
    [result] = raw.push_ok([op("demand", "slot_full", str(uuid.uuid4()), payload, device_seq=raw.next_seq())])
    assert result["outcome"] == "rejected" and result["reason"] == "invalid"
    with any_backend.database.read() as conn:
        assert len(conn.execute(sa.select(u).where(u.c.session_id == session_id)).all()) == 2
    kiosk.close()
