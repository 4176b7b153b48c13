"""Booking rules: book, cancel, reschedule, check in — each written with its outbox op in one transaction.

The kiosk confirms a booking on the spot only against a seat lease it holds (SYNC.md); otherwise the booking is
`requested` and the township decides on the next sync. Every refusal is a `BookingRefused` whose `message()` is a
kind sentence in the resident's language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from cunzhan.codes import make_code
from cunzhan.i18n import N_, gettext
from cunzhan.models import (
    ACTIVE,
    Booking,
    BookingStatus,
    Channel,
    Dependent,
    Feedback,
    Resident,
    Session,
    SessionStatus,
)
from kiosk.store import Store, SyncKey, new_id, to_text, utc_now

if TYPE_CHECKING:
    from cunzhan.protocol import Call, CallAction

# The version of the personal-data notice a resident agrees to before typing their ID number
# (kiosk/ui/screens/consent.py); sent with each booking they make, kept with it at the township.
CONSENT_NOTICE = "2026-12"
# The version of the question that asks for a phone number for SMS reminders (kiosk/ui/screens/phone.py); sent with
# each booking whose resident agreed, so the township texts only numbers given with consent (or entered by staff).
REMINDER_NOTICE = "2026-12-sms"


class Refusal(StrEnum):
    SLOT_FULL = "slot_full"
    SESSION_CLOSED = "session_closed"
    SESSION_STARTED = "session_started"
    DUPLICATE = "duplicate_booking"
    TOO_LATE = "too_late"
    NOT_ACTIVE = "not_active"
    NOT_TODAY = "not_today"
    NOT_FOUND = "not_found"
    SAME_SESSION = "same_session"
    OTHER_SERVICE = "other_service"
    BAD_RATING = "bad_rating"
    NOT_ATTENDED = "not_attended"


REFUSAL_MESSAGES: dict[Refusal, str] = {
    Refusal.SLOT_FULL: N_("Sorry, this time is now full. Here are other times with free places."),
    Refusal.SESSION_CLOSED: N_("Sorry, this session is no longer open for booking."),
    Refusal.SESSION_STARTED: N_("This session has already started. Please choose a later time."),
    Refusal.DUPLICATE: N_("You already have a booking for this session. You do not need to book it again."),
    Refusal.TOO_LATE: N_(
        "It is too close to the start time to change this booking here. "
        "Please ask the staff at the service centre."
    ),
    Refusal.NOT_ACTIVE: N_("This booking is no longer active, so it cannot be changed."),
    Refusal.NOT_TODAY: N_("Check-in opens on the day, shortly before the session starts."),
    Refusal.NOT_FOUND: N_("We could not find this booking. Please check the code on your slip."),
    Refusal.SAME_SESSION: N_("This is the time you already have. Please choose another time."),
    Refusal.OTHER_SERVICE: N_("A booking can only be moved to another time of the same service."),
    Refusal.BAD_RATING: N_("Please choose one of the five faces."),
    Refusal.NOT_ATTENDED: N_("You can rate a session after you have attended it."),
}


class BookingRefused(Exception):
    """A booking rule said no. `alternatives` holds nearby open sessions when the slot was full."""

    def __init__(self, reason: Refusal, alternatives: tuple[Session, ...] = ()) -> None:
        self.reason = reason
        self.alternatives = alternatives
        super().__init__(reason.value)

    def message(self) -> str:
        return gettext(REFUSAL_MESSAGES[self.reason])


@dataclass(frozen=True, slots=True)
class BookingRules:
    """Time limits for changes and check-in (from settings)."""

    cancel_window: dt.timedelta = dt.timedelta(hours=2)
    check_in_early: dt.timedelta = dt.timedelta(minutes=120)


class Bookings:
    """The booking rules over one store. `actor` is recorded in the audit log (a staff id or `resident`)."""

    def __init__(
        self, store: Store, *, rules: BookingRules | None = None, kiosk_number: int | None = None
    ) -> None:
        self.store = store
        self.rules = rules or BookingRules()
        self._kiosk_number = kiosk_number

    @property
    def kiosk_number(self) -> int:
        if self._kiosk_number is not None:
            return self._kiosk_number
        return int(self.store.state(SyncKey.KIOSK_NUMBER, "0") or 0)

    def book(
        self,
        *,
        session_id: str,
        resident: Resident,
        dependent: Dependent | None = None,
        channel: Channel = Channel.SELF,
        staff_id: str | None = None,
        waitlist: bool = False,
        now: dt.datetime | None = None,
        consent_at: dt.datetime | None = None,
    ) -> Booking:
        """Book `session_id` for `resident` (or their dependent). Durable when this returns. `consent_at`: when the
        resident agreed to the personal-data notice (`CONSENT_NOTICE`), recorded with the booking."""
        at = now or utc_now()
        with self.store.transaction() as conn:
            session = self.store.live_session(session_id)
            if session is None:
                raise BookingRefused(Refusal.NOT_FOUND)
            if session.status is not SessionStatus.OPEN:
                raise BookingRefused(Refusal.SESSION_CLOSED)
            if session.starts_at <= at:
                raise BookingRefused(Refusal.SESSION_STARTED)
            seats_left = session.seats_left
            saved = self.store.save_resident(resident, conn=conn)
            dependent_id = dependent.id if dependent else None
            if self.store.has_booking(
                session_id=session_id, resident_id=saved.id, dependent_id=dependent_id, statuses=ACTIVE
            ):
                raise BookingRefused(Refusal.DUPLICATE)
            leased = self.store.lease_seats_free(session_id, now=at, conn=conn) > 0
            if seats_left <= 0 and not leased and not waitlist:
                raise BookingRefused(Refusal.SLOT_FULL, tuple(self.store.nearest_open_sessions(session)))
            state = BookingStatus.CONFIRMED if leased else BookingStatus.REQUESTED
            sequence = self.store.next_counter(conn, "booking_code")
            # `waitlist` on the row: queued without a seat here (the session was full). The township is asked to
            # waitlist rather than refuse whenever the resident chose it (the payload below).
            booking = Booking(
                id=new_id(),
                code=make_code(self.kiosk_number, sequence),
                session_id=session_id,
                resident_id=saved.id,
                status=state,
                dependent_id=dependent_id,
                channel=channel,
                staff_id=staff_id,
                lease=leased,
                waitlist=waitlist and not leased and seats_left <= 0,
                created_at=at,
            )
            self.store.insert_booking(conn, booking)
            if seats_left > 0 and not leased:  # a lease booking uses the lease's seat, not the shared pool
                self.store.take_seat(conn, session_id)
            for_dependent = None
            if dependent is not None:
                for_dependent = {
                    "name": dependent.name,
                    "relation": dependent.relation,
                    "birth_year": dependent.birth_year,
                }
            self.store.enqueue(
                conn,
                entity="booking",
                entity_id=booking.id,
                kind="create",
                payload={
                    "session_id": session_id,
                    "code": booking.code,
                    "resident": {
                        "id": saved.id,
                        "name": saved.name,
                        "id_number": saved.id_number,
                        "phone": saved.phone,
                        "village": saved.village,
                    },
                    "for_dependent": for_dependent,
                    "channel": channel.value,
                    "staff_id": staff_id,
                    "lease": leased,
                    "waitlist": waitlist and not leased,
                    "consent": {"notice": CONSENT_NOTICE, "at": to_text(consent_at)} if consent_at else None,
                    "reminders": reminder_consent(saved),
                },
            )
            self.store.audit(staff_id or "resident", "booking_created", booking.code, conn=conn)
        return booking

    def _changeable(
        self, booking_id: str, at: dt.datetime, *, override_window: bool = False
    ) -> tuple[Booking, Session]:
        booking = self.store.booking(booking_id)
        if booking is None:
            raise BookingRefused(Refusal.NOT_FOUND)
        if booking.status not in {
            BookingStatus.REQUESTED,
            BookingStatus.PENDING_REVIEW,
            BookingStatus.CONFIRMED,
            BookingStatus.WAITLISTED,
        }:
            raise BookingRefused(Refusal.NOT_ACTIVE)
        session = self.store.session(booking.session_id)
        if session is None:
            raise BookingRefused(Refusal.NOT_FOUND)
        if override_window:  # village staff (kiosk.staff.StaffDesk.cancel_for): any time before the start
            if session.starts_at <= at:
                raise BookingRefused(Refusal.SESSION_STARTED)
        elif session.starts_at - at < self.rules.cancel_window:
            raise BookingRefused(Refusal.TOO_LATE)
        return booking, session

    def cancel(
        self,
        booking_id: str,
        *,
        reason: str | None = None,
        actor: str = "resident",
        now: dt.datetime | None = None,
        override_window: bool = False,
    ) -> Booking:
        """Cancel an active booking. `override_window=True` (staff only) allows it inside the resident's
        cancellation window, up to the session's start."""
        at = now or utc_now()
        booking, _session = self._changeable(booking_id, at, override_window=override_window)
        with self.store.transaction() as conn:
            self.store.set_booking_status(conn, booking.id, BookingStatus.CANCELLED)
            if _holds_seat(booking):
                self.store.give_back_seat(conn, booking.session_id)
            self.store.enqueue(
                conn,
                entity="booking",
                entity_id=booking.id,
                kind="cancel",
                payload={"reason": reason},
                base_version=booking.version,
            )
            self.store.audit(actor, "booking_cancelled", booking.code, conn=conn)
        return replace(booking, status=BookingStatus.CANCELLED)

    def reschedule(
        self, booking_id: str, new_session_id: str, *, actor: str = "resident", now: dt.datetime | None = None
    ) -> Booking:
        """Move a booking to another session of the same service. The township confirms the new time."""
        at = now or utc_now()
        booking, old = self._changeable(booking_id, at)
        new = self.store.session(new_session_id)
        if new is None:
            raise BookingRefused(Refusal.NOT_FOUND)
        if new.id == old.id:
            raise BookingRefused(Refusal.SAME_SESSION)
        if new.service_id != old.service_id:
            raise BookingRefused(Refusal.OTHER_SERVICE)
        if new.starts_at <= at:
            raise BookingRefused(Refusal.SESSION_STARTED)
        if not new.bookable:
            raise BookingRefused(Refusal.SLOT_FULL, tuple(self.store.nearest_open_sessions(new)))
        with self.store.transaction() as conn:
            self.store.set_booking_status(
                conn, booking.id, BookingStatus.REQUESTED, session_id=new.id, message=""
            )
            if _holds_seat(booking):
                self.store.give_back_seat(conn, old.id)
            self.store.take_seat(conn, new.id)
            self.store.clear_waitlist(conn, booking.id)  # it holds a seat now
            self.store.enqueue(
                conn,
                entity="booking",
                entity_id=booking.id,
                kind="reschedule",
                payload={"session_id": new.id},
                base_version=booking.version,
            )
            self.store.audit(actor, "booking_rescheduled", booking.code, conn=conn)
        return replace(booking, session_id=new.id, status=BookingStatus.REQUESTED)

    def check_in(
        self, booking_id: str, *, actor: str = "resident", now: dt.datetime | None = None
    ) -> Booking:
        """Check in on the day: from `check_in_early` before the start until the session ends. The resident gets the
        next number of the session's waiting room (`Store.queue_number`)."""
        at = now or utc_now()
        booking = self.store.booking(booking_id)
        if booking is None:
            raise BookingRefused(Refusal.NOT_FOUND)
        if booking.status is BookingStatus.CHECKED_IN:
            return booking
        if booking.status not in {
            BookingStatus.CONFIRMED,
            BookingStatus.PENDING_REVIEW,
            BookingStatus.REQUESTED,
        }:
            raise BookingRefused(Refusal.NOT_ACTIVE)
        session = self.store.session(booking.session_id)
        if session is None:
            raise BookingRefused(Refusal.NOT_FOUND)
        if not (session.starts_at - self.rules.check_in_early <= at <= session.ends_at):
            raise BookingRefused(Refusal.NOT_TODAY)
        with self.store.transaction() as conn:
            self.store.set_booking_status(conn, booking.id, BookingStatus.CHECKED_IN)
            # The number in the waiting room: given here, in check-in order, so it works offline (#16).
            number = self.store.give_queue_number(conn, booking.id, session.id)
            self.store.enqueue(
                conn,
                entity="booking",
                entity_id=booking.id,
                kind="check_in",
                payload={"queue_number": number},
                base_version=booking.version,
            )
            self.store.audit(actor, "booking_checked_in", booking.code, conn=conn)
        return replace(booking, status=BookingStatus.CHECKED_IN)

    def call(self, session_id: str, action: CallAction, *, now: dt.datetime | None = None) -> Call | None:
        """The village staff call from the waiting room (kiosk staff mode): 叫下一位 (`call`: the lowest number not
        called yet), 重叫 (`recall`: the number called last, again), 过号 (`skip`: the number called last did not
        come). Written with its `call`/`announce` op for the township's roster; the display shows the returned call
        at once. None when there is nobody to call."""
        from cunzhan.protocol import Call  # pydantic: not on the kiosk's start-up path

        at = now or utc_now()
        with self.store.transaction() as conn:
            if action == "call":
                waiting = [(b, n) for b, n, called in self.store.waiting_room(session_id) if called is None]
                target = waiting[0] if waiting else None
            else:
                last = self.store.last_called(session_id)
                target = (last[0], last[1]) if last is not None else None
            if target is None:
                return None
            booking, number = target
            self.store.mark_called(conn, booking.id, action, at)
            stamp = to_text(at)
            self.store.enqueue(
                conn,
                entity="call",
                entity_id=booking.id,
                kind="announce",
                payload={"session_id": session_id, "queue_number": number, "action": action, "at": stamp},
            )
        return Call(
            seq=0, session_id=session_id, booking_id=booking.id, queue_number=number, action=action, at=stamp
        )

    def rate(
        self, booking_id: str, rating: int, *, reasons: tuple[str, ...] = (), comment: str | None = None
    ) -> Feedback:
        booking = self.store.booking(booking_id)
        if booking is None:
            raise BookingRefused(Refusal.NOT_FOUND)
        if booking.status not in {BookingStatus.ATTENDED, BookingStatus.CHECKED_IN}:
            raise BookingRefused(Refusal.NOT_ATTENDED)
        if not 1 <= rating <= 5:
            raise BookingRefused(Refusal.BAD_RATING)
        return self._send_feedback(Feedback(new_id(), booking.id, rating, reasons, comment))

    def rate_elsewhere(self, booking_id: str, rating: int, *, comment: str | None = None) -> Feedback:
        """Rate a session booked at another kiosk, which the township invited the resident here to rate
        (kiosk/sync/ratings.py): this kiosk holds no such booking; the township checks the invitation."""
        if not 1 <= rating <= 5:
            raise BookingRefused(Refusal.BAD_RATING)
        return self._send_feedback(Feedback(new_id(), booking_id, rating, comment=comment))

    def _send_feedback(self, feedback: Feedback) -> Feedback:
        with self.store.transaction() as conn:
            self.store.insert_feedback(conn, feedback)
            self.store.enqueue(
                conn,
                entity="feedback",
                entity_id=feedback.id,
                kind="submit",
                payload={
                    "booking_id": feedback.booking_id,
                    "rating": feedback.rating,
                    "reasons": list(feedback.reasons),
                    "comment": feedback.comment,
                },
            )
        return feedback


def reminder_consent(resident: Resident) -> dict[str, str] | None:
    """The `reminders` of a booking's payload: the resident's kept agreement to SMS reminders to their phone."""
    if not resident.phone or resident.reminder_owner is None or resident.reminder_at is None:
        return None
    return {"notice": REMINDER_NOTICE, "at": to_text(resident.reminder_at), "owner": resident.reminder_owner}


def _holds_seat(booking: Booking) -> bool:
    """Whether the booking holds one of the seats the kiosk shows, so that cancelling or moving it gives one back.
    A waitlisted booking, or one still queued here for a full session, never took a seat: giving one back would
    show residents a seat that does not exist (and nothing at the township would correct it)."""
    if booking.status is BookingStatus.REQUESTED:
        return not booking.waitlist
    return booking.status in {BookingStatus.CONFIRMED, BookingStatus.PENDING_REVIEW}
