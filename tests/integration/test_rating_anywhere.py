"""Rating at the next visit to ANY kiosk of the township (#16), against a real township backend on 127.0.0.1 (SQLite and
PostgreSQL): a resident who booked at one kiosk and attended is invited at another, where they identify, to rate the
session with one tap; asked once township-wide; only the kiosk that invited may send the rating; a kiosk that did not
reach the township at its last sync does not ask (nobody waits for a timeout)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from kiosk.booking import Bookings
from kiosk.store.sync_state import Link, SyncKey
from kiosk.sync.ratings import ask_elsewhere, may_ask
from kiosk.ui.app import build_window
from kiosk.ui.context import KioskContext
from kiosk.ui.ops import SyncOps
from kiosk.ui.window import KioskWindow
from tests.integration.conftest import Backend, unique_id_number
from tests.integration.sync_kiosks import KioskSim
from tests.ui.conftest import RecordingSpeech
from tests.ui.helpers import past_notice, press, touch, type_text
from township import db, services

pytestmark = pytest.mark.usefixtures("keyring_ready")


def _kiosk(backend: Backend, root: Path, name: str) -> KioskSim:
    kiosk = KioskSim(root, name)
    kiosk.enroll(backend.url, backend.enrollment_code())
    kiosk.sync_until_ok(kiosk.engine())
    return kiosk


def _attended_at(backend: Backend, kiosk: KioskSim, number: str) -> str:
    """A booking made at `kiosk` for the resident with `number`, attended (marked by the township)."""
    session = backend.new_session(capacity=5, starts_in=dt.timedelta(minutes=30))
    engine = kiosk.engine()
    kiosk.sync_until_ok(engine)
    booking = kiosk.book(session, number)
    assert booking is not None
    Bookings(kiosk.store).check_in(booking.id)
    kiosk.sync_until_ok(engine)
    services.mark_attendance(backend.database, booking.id, True, staff_id=None)
    return booking.id


def _feedback(backend: Backend, booking_id: str) -> list[Any]:
    with backend.database.read() as conn:
        return list(conn.execute(sa.select(db.feedback).where(db.feedback.c.booking_id == booking_id)).all())


def test_a_session_booked_at_one_kiosk_is_rated_at_another_once(any_backend: Backend, tmp_path: Path) -> None:
    home, away, third = (_kiosk(any_backend, tmp_path, n) for n in ("home", "away", "third"))
    number = unique_id_number()
    booking_id = _attended_at(any_backend, home, number)
    assert ask_elsewhere(home.store, number) is None  # its own kiosk asks about it itself (kiosk.store)
    found = ask_elsewhere(away.store, number)
    assert found is not None and found.booking_id == booking_id and found.service
    assert found.starts_at.tzinfo is not None
    assert ask_elsewhere(away.store, number) is None  # asked once, township-wide
    assert ask_elsewhere(third.store, number) is None
    assert ask_elsewhere(away.store, unique_id_number()) is None  # nobody the township knows
    # Only the kiosk that invited may send the rating: another one's is refused and changes nothing.
    Bookings(third.store).rate_elsewhere(booking_id, 1)
    third.sync_until_ok(third.engine())
    assert _feedback(any_backend, booking_id) == []
    refused = third.store.query("SELECT state FROM outbox WHERE entity = 'feedback'")
    assert [r["state"] for r in refused] == ["rejected"]
    Bookings(away.store).rate_elsewhere(booking_id, 5)
    away.sync_until_ok(away.engine())
    [kept] = _feedback(any_backend, booking_id)
    assert kept.rating == 5
    for kiosk in (home, away, third):
        kiosk.close()


def test_the_ask_refuses_what_is_not_an_id_number_and_needs_a_kiosk_token(
    backend: Backend, tmp_path: Path
) -> None:
    kiosk = _kiosk(backend, tmp_path, "asker")
    from kiosk.sync import credentials

    token = credentials.load_token(kiosk.store.path.parent)
    url = backend.url + "/v1/ratings/ask"
    auth = {"Authorization": f"Bearer {token}"}
    for body in ({"id_number": "110101195001011234"}, {"other": 1}, [1, 2], {"id_number": "1" * 19}):
        answer = requests.post(url, json=body, headers=auth, timeout=10)
        assert answer.status_code == 400 and answer.json()["error"] == "malformed", answer.text
    huge = requests.post(url, json={"id_number": "x" * 10_000}, headers=auth, timeout=10)
    assert huge.status_code == 413 and huge.json()["error"] == "too_large"
    assert requests.post(url, json={"id_number": unique_id_number()}, timeout=10).status_code == 401
    assert (
        requests.post(url, json={"id_number": unique_id_number()}, headers=auth, timeout=10).json()[
            "invitation"
        ]
        is None
    )
    kiosk.close()


def test_a_kiosk_gets_a_few_invitations_an_hour_each_in_the_staff_trail(
    any_backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stolen kiosk token probing a list of ID numbers learns at most INVITES_PER_HOUR sessions an hour (then 429,
    which marks nothing), and every invitation given is in the township's staff-actions trail."""
    from kiosk.sync import credentials
    from township import ratings

    monkeypatch.setattr(ratings, "INVITES_PER_HOUR", 2)
    home, away = _kiosk(any_backend, tmp_path, "home"), _kiosk(any_backend, tmp_path, "away")
    numbers = [unique_id_number() for _ in range(3)]
    bookings = [_attended_at(any_backend, home, number) for number in numbers]
    url = any_backend.url + "/v1/ratings/ask"
    auth = {"Authorization": f"Bearer {credentials.load_token(away.store.path.parent)}"}
    answers = [requests.post(url, json={"id_number": n}, headers=auth, timeout=10) for n in numbers]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.json()["invitation"]["booking_id"] for a in answers[:2]] == bookings[:2]
    assert answers[2].json()["error"] == "busy"
    with any_backend.database.read() as conn:
        invited = conn.execute(
            sa.select(db.bookings.c.id).where(
                db.bookings.c.id.in_(bookings), db.bookings.c.rating_invited_at.is_not(None)
            )
        ).scalars()
        trail = conn.execute(
            sa.select(db.staff_audit.c.who, db.staff_audit.c.target).where(
                db.staff_audit.c.action == "rating_invited", db.staff_audit.c.target.in_(bookings)
            )
        ).all()
    assert set(invited) == set(bookings[:2])  # the refused ask marked nothing
    number = int(str(away.store.state("kiosk_number")))
    assert sorted(trail) == sorted((f"kiosk {number}", b) for b in bookings[:2])
    for kiosk in (home, away):
        kiosk.close()


@pytest.fixture
def window(qapp: object, qtbot: QtBot) -> Iterator[Any]:
    made: list[KioskWindow] = []

    def make(kiosk: KioskSim) -> KioskWindow:
        from kiosk.accessibility.api import NoVoice

        ctx = KioskContext(store=kiosk.store, speech=RecordingSpeech(), voice=NoVoice("none"), ops=SyncOps())
        ticks = itertools.count(step=1.0)  # each touch a second after the last: none is a tremor repeat
        win = build_window(ctx, clock=lambda: float(next(ticks)))
        win.resize(1280, 800)
        win.show()
        qtbot.waitExposed(win)
        win.go_home()
        made.append(win)
        return win

    yield make
    for win in made:
        win.shutdown()
        win.deleteLater()


def _identify(win: KioskWindow, number: str) -> None:
    touch(win, "choice_bookings")
    past_notice(win)
    type_text(win, number)
    press(win, Qt.Key.Key_Return)


def test_the_resident_is_invited_at_another_kiosk_and_rates_with_one_tap(
    backend: Backend, tmp_path: Path, window: Any
) -> None:
    home, away = _kiosk(backend, tmp_path, "home2"), _kiosk(backend, tmp_path, "away2")
    number = unique_id_number()
    booking_id = _attended_at(backend, home, number)
    win = window(away)
    away.store.set_state(SyncKey.LINK, Link.OFFLINE)  # the last sync failed: not asked, the journey goes on
    assert not may_ask(away.store)
    _identify(win, number)
    assert win.current is not None and win.current.name == "booking_list"
    win.end_visit()
    win.go_home()
    away.store.set_state(SyncKey.LINK, Link.ONLINE)
    _identify(win, number)
    assert win.current is not None and win.current.name == "rate_invite"
    shown = " ".join(label.text() for label in win.current.findChildren(QLabel))
    with backend.database.read() as conn:
        service = conn.execute(
            sa.select(db.services.c.name)
            .join(db.sessions, db.sessions.c.service_id == db.services.c.id)
            .join(db.bookings, db.bookings.c.session_id == db.sessions.c.id)
            .where(db.bookings.c.id == booking_id)
        ).scalar_one()
    assert service in shown  # which session: its service and day
    # Also in what the screen says (spoken in the speaking modes): a resident who cannot see knows what they rate.
    assert service in win.current.announcement()
    touch(win, "face_4")
    assert win.current.name == "booking_list"  # where the resident was going
    win.end_visit()
    assert win.ctx.visit.rating_elsewhere is None  # nothing of it left for the next person
    away.sync_until_ok(away.engine())
    [kept] = _feedback(backend, booking_id)
    assert kept.rating == 4
    win.go_home()
    _identify(win, number)
    assert win.current.name == "booking_list"  # asked once
    home.close()
    away.close()


@pytest.mark.parametrize("fault", ["drop_request", "drop_response", "corrupt_response", "truncate_response"])
def test_a_failed_ask_is_nothing_to_rate_and_the_resident_goes_on(
    backend: Backend, tmp_path: Path, fault: str
) -> None:
    """Through the fault proxy: whatever goes wrong, the ask answers None (nothing is raised into the screen; it
    waits at most its own short timeouts, `client.ASK_TIMEOUT_S`). A response lost after the township marked the
    booking offered uses that invitation up: the resident is not asked about that session again (asked once, not
    shown once)."""
    from tests.proxy import FaultPlan, FaultProxy

    home, away = _kiosk(backend, tmp_path, f"h-{fault}"), _kiosk(backend, tmp_path, f"a-{fault}")
    number = unique_id_number()
    _attended_at(backend, home, number)
    port = int(backend.url.rsplit(":", 1)[1])
    with FaultProxy(port, FaultPlan(paths=("/v1/ratings/",), script=[fault]), seed=3) as proxy:
        away.store.set_state(SyncKey.TOWNSHIP_URL, proxy.url)
        assert ask_elsewhere(away.store, number) is None
        again = ask_elsewhere(away.store, number)
    # The township answered (and marked it offered) unless the request never arrived.
    offered = fault != "drop_request"
    assert (again is None) is offered
    home.close()
    away.close()
