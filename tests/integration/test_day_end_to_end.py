"""A whole day of the service, end to end (#16), on SQLite and PostgreSQL, with every part real: a kiosk (its store,
booking rules and sync engine) books four residents against a township backend on 127.0.0.1; a reviewer confirms the
one that needed review; the notification outbox texts the confirmation and the reminders through the real Tencent
Cloud SDK to the stand-in provider, only to numbers given with consent; two residents check in and get numbers 1
and 2; the doctor's calls from the console reach the kiosk's waiting-room display (offscreen Qt) through the real
long-poll listener; the doctor marks them seen; the two who never came become no-shows after the grace period; the
kiosk learns every outcome at its next pull, and invites a resident who attended to rate the session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pytestqt.qtbot import QtBot

from cunzhan.demo import ZONE
from cunzhan.models import BookingStatus, Resident
from kiosk.booking import Bookings
from kiosk.ui.app import build_window
from kiosk.ui.context import KioskContext
from kiosk.ui.display import open_display, waiting_room
from kiosk.ui.ops import SyncOps
from tests.browser.console_client import STAFF_PASSWORD, ConsoleClient
from tests.integration.conftest import Backend, unique_id_number
from tests.integration.sync_kiosks import KioskSim
from tests.integration.test_notify_outbox import configure
from tests.sms_standin import StandIn
from tests.ui.conftest import RecordingSpeech
from township import db, services
from township.attendance import GRACE, mark_no_shows
from township.notify.service import run_once

pytestmark = pytest.mark.usefixtures("keyring_ready")

ROOM = "远程诊室一"


@pytest.fixture
def standin(any_backend: Backend) -> Iterator[StandIn]:
    server = StandIn(templates={"2001": 3, "2002": 3, "2003": 3, "2004": 3}).start()
    configure(any_backend, server)
    yield server
    server.stop()
    with any_backend.database.write() as conn:  # the module's next test starts with no SMS settings
        conn.execute(sa.delete(db.notify_settings))


def _resident(kiosk: KioskSim, name: str, phone: str | None, owner: str | None) -> Resident:
    """A resident as the kiosk's journey leaves them: with a number and the agreement to reminders, or without."""
    return Resident(
        kiosk.resident(unique_id_number()).id,
        name,
        unique_id_number(),
        phone,
        "上坪村",
        reminder_owner=owner,
        reminder_at=kiosk.clock() if owner else None,
    )


def test_a_day_from_booking_to_being_seen(
    any_backend: Backend, standin: StandIn, tmp_path: Path, qapp: object, qtbot: QtBot
) -> None:
    backend = any_backend
    database = backend.database
    kiosk = KioskSim(tmp_path, "day")
    kiosk.enroll(backend.url, backend.enrollment_code())
    kiosk.store.set_setting("room_name", ROOM, actor="test")
    clinic = backend.new_session(capacity=6, starts_in=dt.timedelta(minutes=40))
    reviewed = backend.new_session(capacity=6, review=True, starts_in=dt.timedelta(minutes=50))
    engine = kiosk.engine()
    kiosk.sync_until_ok(engine)

    # Morning: four residents book at the kiosk (one for a service the township reviews; one with no phone).
    rules = Bookings(kiosk.store)
    people = {
        "zhang": (_resident(kiosk, "张大爷", "13912340001", "self"), clinic),
        "li": (_resident(kiosk, "李奶奶", "13912340002", "family"), clinic),
        "wang": (_resident(kiosk, "王伯", None, None), clinic),
        "zhao": (_resident(kiosk, "赵婶", "13912340004", "self"), reviewed),
    }
    booked = {
        key: rules.book(session_id=session, resident=who, now=kiosk.clock())
        for key, (who, session) in people.items()
    }
    ids = {key: b.id for key, b in booked.items()}
    kiosk.sync_until_ok(engine)
    at_kiosk = {key: kiosk.store.booking(i).status for key, i in ids.items()}  # type: ignore[union-attr]
    assert at_kiosk == {
        "zhang": BookingStatus.CONFIRMED,
        "li": BookingStatus.CONFIRMED,
        "wang": BookingStatus.CONFIRMED,
        "zhao": BookingStatus.PENDING_REVIEW,
    }

    # The township reviews: 赵婶's booking is confirmed, and she is told by text.
    reviewer = backend.create_staff("day-reviewer", "reviewer", STAFF_PASSWORD)
    services.confirm_booking(database, ids["zhao"], staff_id=reviewer)
    sent = run_once(database)
    texts = [(d.phone, d.template_id) for d in standin.delivered]
    assert ("+8613912340004", "2001") in texts  # the confirmation after review
    reminded = {phone for phone, template in texts if template == "2003"}  # two hours before
    assert {"+8613912340001", "+8613912340002", "+8613912340004"} <= reminded
    assert all(not phone.endswith("0003") for phone, _t in texts)  # 王伯 gave no number: no text, no error
    assert sent["sent"] == len(standin.delivered)
    assert run_once(database)["sent"] == 0  # sent once
    kiosk.sync_until_ok(engine)
    assert kiosk.store.booking(ids["zhao"]).status == BookingStatus.CONFIRMED  # type: ignore[union-attr]

    # The session: 张大爷 and 李奶奶 check in and get numbers 1 and 2; the room's display listens for calls.
    rules.check_in(ids["zhang"])
    rules.check_in(ids["li"])
    assert (kiosk.store.queue_number(ids["zhang"]), kiosk.store.queue_number(ids["li"])) == (1, 2)
    kiosk.sync_until_ok(engine)
    with database.read() as conn:
        numbers = dict(
            conn.execute(
                sa.select(db.bookings.c.id, db.bookings.c.queue_number).where(
                    db.bookings.c.session_id == clinic
                )
            ).all()
        )
    assert numbers == {ids["zhang"]: 1, ids["li"]: 2, ids["wang"]: None}

    ctx = KioskContext(store=kiosk.store, speech=RecordingSpeech(), voice=_no_voice(), ops=SyncOps())
    window = build_window(ctx)
    speech = RecordingSpeech()
    display = open_display(window, speech=speech, listen=False, full_screen=False)
    room = waiting_room(window)
    try:
        room.listen(wait_s=25)
        assert room.listener is not None and room.listener.wait_for_polls(1, timeout=30)

        # The doctor (a provider account for this session) calls from the console.
        with database.read() as conn:
            provider_id, starts = conn.execute(
                sa.select(db.sessions.c.provider_id, db.sessions.c.starts_at).where(
                    db.sessions.c.id == clinic
                )
            ).one()
        day = db.utc(starts).astimezone(ZONE).date().isoformat()  # the session's day, whatever the hour now
        services.create_staff(
            database, "demo", "day-doctor", services.PROVIDER, STAFF_PASSWORD, provider_id=provider_id
        )
        doctor = ConsoleClient(backend.url)
        assert doctor.sign_in("day-doctor").status_code == 200
        roster = doctor.get(f"/console/roster?day={day}")
        assert roster.status_code == 200 and f'id="session-{clinic}"' in roster.text
        assert f'id="session-{reviewed}"' not in roster.text  # another provider's session
        for number, key in ((1, "zhang"), (2, "li")):
            called = doctor.post(f"/console/roster/sessions/{clinic}/next", {"day": day})
            assert called.status_code == 200, called.text
            qtbot.waitUntil(
                lambda n=number: display.board.current_text() == f"请 {n} 号 到 {ROOM}", timeout=5000
            )
            seen = doctor.post(
                f"/console/roster/bookings/{ids[key]}/seen", {"session_id": clinic, "day": day}
            )
            assert seen.status_code == 200
        assert [s for s in speech.said if "号" in s] == [
            f"请 1 号到{ROOM}。请 1 号到{ROOM}。",
            f"请 2 号到{ROOM}。请 2 号到{ROOM}。",
        ]  # by number, never by name
        assert all("张" not in s and "李" not in s for s in speech.said)
    finally:
        room.stop()
        display.close()
        window.shutdown()
        window.deleteLater()

    # After the sessions: those who never came become no-shows once the grace period is over.
    with database.read() as conn:
        last_end = max(
            db.utc(e)
            for e in conn.execute(
                sa.select(db.sessions.c.ends_at).where(db.sessions.c.id.in_([clinic, reviewed]))
            ).scalars()
        )
    assert mark_no_shows(database, now=last_end + GRACE) == 2
    kiosk.sync_until_ok(engine)
    outcome = {key: kiosk.store.booking(i).status for key, i in ids.items()}  # type: ignore[union-attr]
    assert outcome == {
        "zhang": BookingStatus.ATTENDED,
        "li": BookingStatus.ATTENDED,
        "wang": BookingStatus.NO_SHOW,
        "zhao": BookingStatus.NO_SHOW,
    }

    # 张大爷's next visit: he is invited to rate the session he attended (once).
    zhang = kiosk.store.booking(ids["zhang"])
    assert zhang is not None
    invite = kiosk.store.booking_to_rate(zhang.resident_id)
    assert invite is not None and invite.id == ids["zhang"]
    kiosk.store.mark_rating_asked(ids["zhang"])
    assert kiosk.store.booking_to_rate(zhang.resident_id) is None
    kiosk.close()


def _no_voice() -> Any:
    from kiosk.accessibility.api import NoVoice

    return NoVoice("none")
