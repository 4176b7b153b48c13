"""电话预约: a resident who phones the service hall is booked by township staff in the console (issue 16).

The booking follows the rules a kiosk's booking follows (one write transaction, the township then the session
locked): the session must be open, in the future and not on a holiday; one active booking per person and session;
a seat from the shared pool, else the waiting list when staff ask for it, else a refusal naming other times; review
for services that need it. It belongs to the kiosk of the resident's village (`bookings.device_id`), so that kiosk
receives it at its next pull, the resident finds it there by typing their ID number, and only that kiosk can check
it in or cancel it — as for the kiosk's own bookings. What the change carries: docs/sync.md, "Phone bookings".

Consent is recorded as given by phone to the staff member (`consent_notice` = `phone`, `staff_id` = their user
name). A confirmed booking with a phone number queues the confirmation text (township.notify).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cunzhan.codes import make_code
from cunzhan.fieldcrypto import field_ref
from cunzhan.i18n import N_, use_locale
from cunzhan.i18n import gettext as _
from cunzhan.identity import ID_MESSAGES, PHONE_MESSAGES, check_id_number, check_phone, mask_id
from cunzhan.models import BookingStatus as S
from township import booking as B
from township import db, keys
from township import messages as M
from township import services as svc
from township.insight.unmet import record_unmet
from township.notify import outbox as notify
from township.notify.messages import Kind

# Kiosk numbers are 1–99, so codes made here use 00 and never meet a kiosk's own. The sequence starts high, so
# neither do they meet the codes of a kiosk used before it was enrolled (kiosk number 0, sequence from 1); up to
# 99999 they are 8 digits, what the kiosk's check-in keypad takes.
CODE_KIOSK = 0
FIRST_SEQUENCE = 90000
CONSENT_BY_PHONE = (
    "phone"  # `bookings.consent_notice`: agreed on the phone, to the staff member in `staff_id`
)
ROLES = (svc.ADMIN, svc.REVIEWER)

ERR_NAME = N_("Please enter the resident's name (at most 64 characters).")
ERR_NAME_NEEDED = N_("This ID number is new to the township: please enter the resident's name.")
ERR_VILLAGE = N_("The village name can have at most 100 characters.")
ERR_KIOSK = N_("Choose the kiosk of the resident's village.")
ERR_SESSION = N_("Choose a session.")
ERR_CANCELLED = N_("That session has been cancelled. Choose another one.")
ERR_CLOSED = N_("That session is no longer taking bookings. Choose another one.")
ERR_STARTED = N_("That session has already started. Choose a later one.")
ERR_HOLIDAY = N_("That session is on a holiday ({name}). Choose another day.")
ERR_DUPLICATE = N_("This resident already has a booking for that session. Nothing was booked.")
ERR_FULL_OTHERS = N_("That session is full. Times of the same service with free places: {times}.")
ERR_FULL_NONE = N_(
    "That session is full and no other time of the same service has a free place. "
    "Tick the waiting-list box to put the resident on its waiting list."
)


@dataclass(frozen=True, slots=True)
class PhoneBooking:
    """What the form sends (text as typed)."""

    id_number: str
    name: str
    phone: str
    village: str
    device_id: str
    session_id: str
    waitlist: bool = False


@dataclass(frozen=True, slots=True)
class _Caller:
    """The form's resident fields, checked."""

    number: str
    name: str
    phone: str | None
    village: str


def book_by_phone(database: db.Database, form: PhoneBooking, *, staff_id: str) -> dict[str, Any]:
    """Book a session for a resident who phoned. Returns the booking's summary plus its `message` and kiosk
    number; refusals raise `services.ServiceError` naming the form field."""
    caller = _read_form(form)
    with database.write() as conn:
        actor = svc._actor(conn, staff_id)
        role = conn.execute(sa.select(db.staff_users.c.role).where(db.staff_users.c.id == staff_id)).scalar()
        if role not in ROLES:
            raise svc.ServiceError("forbidden", M.ERR_NOT_FOUND)
        device, session = _target(conn, actor.township_id, form)
        _check_session(conn, session, actor.zone)
        cipher = keys.cipher_for(conn)
        resident_id = conn.execute(
            sa.select(db.residents.c.id).where(
                db.residents.c.township_id == actor.township_id,
                db.residents.c.id_blind == cipher.lookup_hash(caller.number),
            )
        ).scalar()
        if resident_id is None and not caller.name:
            raise svc.ServiceError("invalid", ERR_NAME_NEEDED, field="name")
        if resident_id is not None and B.active_duplicate(conn, session.id, resident_id, ""):
            raise svc.ServiceError("duplicate", ERR_DUPLICATE, field="session")
        now = db.now_utc()
        status, position, message = _seat(conn, session, actor, waitlist=form.waitlist, now=now)
        resident_id, caller = _resident(
            conn, cipher, township_id=actor.township_id, resident_id=resident_id, caller=caller, now=now
        )
        name, phone, village = caller.name, caller.phone, caller.village
        booking_id = B.new_id()
        values: dict[str, Any] = {
            "id": booking_id,
            "township_id": actor.township_id,
            "session_id": session.id,
            "resident_id": resident_id,
            "code": _next_code(conn, actor.township_id),
            "status": status,
            "version": 1,
            "device_id": device.id,
            "kiosk_number": device.kiosk_number,
            "channel": B.PHONE_CHANNEL,
            "staff_id": actor.who,
            "for_dependent": None,
            "dependent_key": "",
            "lease": False,
            "waitlist_position": position,
            "message": message,
            "decided_by": None,
            "contact_name_enc": cipher.encrypt(
                name or "", where=field_ref("bookings", "contact_name_enc", booking_id)
            ),
            "contact_phone_enc": cipher.encrypt(
                phone or None, where=field_ref("bookings", "contact_phone_enc", booking_id)
            ),
            "contact_village": village or None,
            "consent_notice": CONSENT_BY_PHONE,
            "consent_at": db.naive(now),
            "created_at": db.naive(now),
            "updated_at": db.naive(now),
        }
        conn.execute(sa.insert(db.bookings).values(**values))
        row = SimpleNamespace(**values)
        B.log_booking(conn, row)  # to the village kiosk only (its device scope), with the resident's `match`
        if status != S.WAITLISTED:
            B.touch_session(conn, session.id)  # the shared pool shrank
        else:  # unmet demand for the county's needs profile, as a kiosk's waitlisted create records it
            record_unmet(conn, actor.township_id, "waitlisted", village=village, session=session)
        if status == S.CONFIRMED:
            notify.queue(conn, row, Kind.CONFIRMED, occasion="v1")  # nothing when no phone number was given
        svc._audit(
            conn,
            actor,
            "booking_by_phone",
            values["code"],
            booking_id=booking_id,
            session_id=session.id,
            kiosk_number=device.kiosk_number,
            status=status,
        )
        return B.booking_summary(row) | {"message": message, "kiosk_number": device.kiosk_number}


def _read_form(form: PhoneBooking) -> _Caller:
    """The resident's fields checked as a kiosk checks them (GB 11643 ID number, mainland mobile number)."""
    id_check = check_id_number(form.id_number)
    if not id_check.ok or id_check.number is None:
        assert id_check.problem is not None
        raise svc.ServiceError(
            "invalid", ID_MESSAGES[id_check.problem], field="id_number", count=id_check.count
        )
    name = form.name.strip()
    if len(name) > 64:
        raise svc.ServiceError("invalid", ERR_NAME, field="name")
    phone: str | None = None
    if form.phone.strip():
        phone_check = check_phone(form.phone)
        if not phone_check.ok:
            assert phone_check.problem is not None
            raise svc.ServiceError(
                "invalid", PHONE_MESSAGES[phone_check.problem], field="phone", count=phone_check.count
            )
        phone = phone_check.number
    village = form.village.strip()
    if len(village) > 100:
        raise svc.ServiceError("invalid", ERR_VILLAGE, field="village")
    return _Caller(id_check.number, name, phone, village)


def _target(conn: Connection, township_id: str, form: PhoneBooking) -> tuple[sa.Row[Any], sa.Row[Any]]:
    """The kiosk (this township's, not revoked) and the session (locked) the form names."""
    device = conn.execute(
        sa.select(db.devices).where(
            db.devices.c.id == form.device_id,
            db.devices.c.township_id == township_id,
            db.devices.c.revoked_at.is_(None),
        )
    ).first()
    if device is None:
        raise svc.ServiceError("invalid", ERR_KIOSK, field="kiosk")
    session = db.lock_session(conn, form.session_id) if form.session_id else None
    if session is None or session.township_id != township_id:
        raise svc.ServiceError("invalid", ERR_SESSION, field="session")
    return device, session


def _seat(
    conn: Connection, session: sa.Row[Any], actor: Any, *, waitlist: bool, now: dt.datetime
) -> tuple[str, int | None, str]:
    """(status, waiting-list position, message to the resident) as a kiosk's create would have them."""
    review = bool(B.service_of(conn, session).review)
    with use_locale(actor.locale):  # what the kiosk shows the resident: the township's language
        if B.seats_left(conn, session) > 0:
            return (
                (S.PENDING_REVIEW, None, _(M.PENDING_REVIEW))
                if review
                else (S.CONFIRMED, None, _(M.CONFIRMED))
            )
        if not waitlist:
            raise _full(conn, session, now, actor.zone)
        queued = conn.execute(
            sa.select(sa.func.count())
            .select_from(db.bookings)
            .where(db.bookings.c.session_id == session.id, db.bookings.c.status == S.WAITLISTED)
        ).scalar_one()
        message = _(M.WAITLISTED).format(position=int(queued) + 1)
    return S.WAITLISTED, B.next_waitlist_position(conn, session.id), message


def _resident(
    conn: Connection,
    cipher: Any,
    *,
    township_id: str,
    resident_id: str | None,
    caller: _Caller,
    now: dt.datetime,
) -> tuple[str, _Caller]:
    """The resident's id, made from the form when the ID number is new; a known resident's record fills in what
    staff left empty (a booking keeps the details it was made with, as a kiosk's does)."""
    if resident_id is None:
        resident_id = B.new_id()
        conn.execute(
            sa.insert(db.residents).values(
                id=resident_id,
                township_id=township_id,
                id_blind=cipher.lookup_hash(caller.number),
                id_number_enc=cipher.encrypt(
                    caller.number, where=field_ref("residents", "id_number_enc", resident_id)
                ),
                id_mask=mask_id(caller.number),
                name_enc=cipher.encrypt(caller.name, where=field_ref("residents", "name_enc", resident_id)),
                phone_enc=cipher.encrypt(
                    caller.phone, where=field_ref("residents", "phone_enc", resident_id)
                ),
                village=caller.village or None,
                created_at=db.naive(now),
                updated_at=db.naive(now),
            )
        )
        return resident_id, caller
    record = conn.execute(sa.select(db.residents).where(db.residents.c.id == resident_id)).one()
    name = caller.name or cipher.decrypt(
        record.name_enc, where=field_ref("residents", "name_enc", resident_id)
    )
    phone = caller.phone or cipher.decrypt(
        record.phone_enc, where=field_ref("residents", "phone_enc", resident_id)
    )
    return resident_id, _Caller(caller.number, name or "", phone, caller.village or record.village or "")


def _check_session(conn: Connection, session: sa.Row[Any], zone: str) -> None:
    if session.status == "cancelled":
        raise svc.ServiceError("status", ERR_CANCELLED, field="session")
    if session.status != "open":
        raise svc.ServiceError("status", ERR_CLOSED, field="session")
    if db.utc(session.starts_at) <= db.now_utc():
        raise svc.ServiceError("status", ERR_STARTED, field="session")
    day = db.utc(session.starts_at).astimezone(zoneinfo.ZoneInfo(zone)).date()
    holiday = conn.execute(
        sa.select(db.holidays.c.name).where(
            db.holidays.c.township_id == session.township_id, db.holidays.c.day == day
        )
    ).scalar()
    if holiday is not None:
        raise svc.ServiceError("status", ERR_HOLIDAY, field="session", name=holiday)


def _full(conn: Connection, session: sa.Row[Any], now: dt.datetime, zone: str) -> svc.ServiceError:
    others = B.alternatives(conn, session, now=now)
    if not others:
        return svc.ServiceError("full", ERR_FULL_NONE, field="session")
    times = "; ".join(
        svc.local_time_text(dt.datetime.fromisoformat(str(x["starts_at"])), zone) for x in others
    )
    return svc.ServiceError("full", ERR_FULL_OTHERS, field="session", times=times)


def _next_code(conn: Connection, township_id: str) -> str:
    """The township's next phone booking code: kiosk part 00, sequence from `FIRST_SEQUENCE` (township lock held)."""
    b = db.bookings
    prefix = f"{CODE_KIOSK:02d}"
    last = conn.execute(
        sa.select(b.c.code)
        .where(b.c.township_id == township_id, b.c.channel == B.PHONE_CHANNEL, b.c.code.startswith(prefix))
        .order_by(sa.func.length(b.c.code).desc(), b.c.code.desc())
        .limit(1)
    ).scalar()
    sequence = int(last[2:-1]) + 1 if last else FIRST_SEQUENCE
    return make_code(CODE_KIOSK, sequence)


def open_sessions(conn: Connection, township_id: str, *, days: int = 30) -> list[dict[str, Any]]:
    """Open sessions starting from now to `days` ahead, with service, provider and free seats, for the form."""
    s, sv, p = db.sessions, db.services, db.providers
    now = db.now_utc()
    rows = conn.execute(
        sa.select(s, sv.c.name.label("service_name"), sv.c.review, p.c.name.label("provider_name"))
        .join(sv, sv.c.id == s.c.service_id)
        .join(p, p.c.id == s.c.provider_id)
        .where(
            s.c.township_id == township_id,
            s.c.status == "open",
            s.c.starts_at > db.naive(now),
            s.c.starts_at < db.naive(now + dt.timedelta(days=days)),
            sv.c.active.is_(True),
        )
        .order_by(sv.c.name, s.c.starts_at)
        .limit(500)
    ).all()
    return [dict(r._mapping) | {"seats_left": B.seats_left(conn, r)} for r in rows]


def village_kiosks(conn: Connection, township_id: str) -> list[dict[str, Any]]:
    """The township's kiosks that are not revoked, by number (a kiosk's name is usually its village's)."""
    d = db.devices
    rows = conn.execute(
        sa.select(d.c.id, d.c.kiosk_number, d.c.name)
        .where(d.c.township_id == township_id, d.c.revoked_at.is_(None))
        .order_by(d.c.kiosk_number)
    ).all()
    return [dict(r._mapping) for r in rows]


def find_caller(conn: Connection, township_id: str, id_number: str) -> dict[str, Any] | None:
    """A known resident's record for the form (name, phone, village), or None. The caller audits the look."""
    cipher = keys.cipher_for(conn)
    r = db.residents
    row = conn.execute(
        sa.select(r).where(r.c.township_id == township_id, r.c.id_blind == cipher.lookup_hash(id_number))
    ).first()
    if row is None:
        return None
    return {
        "id": row.id,
        "name": cipher.decrypt(row.name_enc, where=field_ref("residents", "name_enc", row.id)) or "",
        "phone": cipher.decrypt(row.phone_enc, where=field_ref("residents", "phone_enc", row.id)) or "",
        "village": row.village or "",
    }
