"""The kiosk's domain: services, providers, sessions, residents and dependents, bookings and feedback."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from cunzhan.i18n import N_


class ServiceKind(StrEnum):
    CLINIC = "clinic"
    SCHOOL = "school"


class QueueOrder(StrEnum):
    """How a service's waiting room numbers its residents (#16, a service setting): in the order they check in, or
    in the order they booked (numbers kept for them when the booking is stored, given at check-in)."""

    CHECK_IN = "check_in"
    BOOKING = "booking"


class SessionStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class BookingStatus(StrEnum):
    """A booking's status, as SYNC.md defines it. `requested` exists only on the kiosk."""

    REQUESTED = "requested"
    PENDING_REVIEW = "pending_review"
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    CHECKED_IN = "checked_in"
    ATTENDED = "attended"
    NO_SHOW = "no_show"

    @property
    def holds_seat(self) -> bool:
        """Statuses that count against a session's capacity."""
        return self in HOLDS_SEAT

    @property
    def active(self) -> bool:
        """Still expected to happen (the resident should come)."""
        return self in ACTIVE

    def label(self) -> str:
        """Plain words for the resident, translated."""
        from cunzhan.i18n import gettext

        return gettext(STATUS_LABELS[self])


# The sets both sides use (the backend's SQL `IN` lists are built from them). `requested` exists only on the kiosk,
# where whether it holds a seat depends on its lease (kiosk.booking); at the backend a booking waiting for review
# already holds its seat, so that staff confirming it can never overfill a session.
HOLDS_SEAT = frozenset(
    {BookingStatus.PENDING_REVIEW, BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN, BookingStatus.ATTENDED}
)
# Still expected to happen (the resident should come).
ACTIVE = frozenset(
    {
        BookingStatus.REQUESTED,
        BookingStatus.PENDING_REVIEW,
        BookingStatus.CONFIRMED,
        BookingStatus.WAITLISTED,
        BookingStatus.CHECKED_IN,
    }
)
# Over: the resident is no longer expected. Every status is either ACTIVE or ENDED.
ENDED = frozenset(
    {BookingStatus.REJECTED, BookingStatus.CANCELLED, BookingStatus.ATTENDED, BookingStatus.NO_SHOW}
)
# May still be cancelled, or moved to another session, by the resident or staff (not checked in yet).
CHANGEABLE = ACTIVE - {BookingStatus.CHECKED_IN}
# The resident has come (or the outcome is known): too late to cancel or move.
CHECKED_IN_OR_LATER = frozenset({BookingStatus.CHECKED_IN, BookingStatus.ATTENDED, BookingStatus.NO_SHOW})

STATUS_LABELS: dict[BookingStatus, str] = {
    BookingStatus.REQUESTED: N_("Requested, waiting for the township to confirm"),
    BookingStatus.PENDING_REVIEW: N_("Received, township staff are reviewing it"),
    BookingStatus.CONFIRMED: N_("Confirmed"),
    BookingStatus.WAITLISTED: N_("On the waiting list"),
    BookingStatus.REJECTED: N_("Not accepted"),
    BookingStatus.CANCELLED: N_("Cancelled"),
    BookingStatus.CHECKED_IN: N_("Checked in"),
    BookingStatus.ATTENDED: N_("Attended"),
    BookingStatus.NO_SHOW: N_("Missed"),
}


class Channel(StrEnum):
    SELF = "self"
    ASSISTED = "assisted"


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    kind: ServiceKind
    name: str
    description: str = ""
    review: bool = False
    what_to_bring: str = ""
    queue_order: QueueOrder = QueueOrder.CHECK_IN


@dataclass(frozen=True, slots=True)
class Provider:
    id: str
    name: str
    title: str = ""
    organisation: str = ""


@dataclass(frozen=True, slots=True)
class Session:
    """A bookable time slot of a service with a provider, and its capacity."""

    id: str
    service_id: str
    provider_id: str
    starts_at: dt.datetime  # UTC, aware
    ends_at: dt.datetime
    capacity: int
    seats_left: int
    room: str = ""
    video_url: str = ""
    status: SessionStatus = SessionStatus.OPEN
    version: int = 0

    @property
    def bookable(self) -> bool:
        return self.status is SessionStatus.OPEN and self.seats_left > 0


@dataclass(frozen=True, slots=True)
class Dependent:
    """Someone a resident books for, such as a grandchild."""

    id: str
    resident_id: str
    name: str
    relation: str
    birth_year: int | None = None


@dataclass(frozen=True, slots=True)
class Resident:
    """A resident as the kiosk knows them. `id_number` and `phone` are held in clear only in memory."""

    id: str
    name: str
    id_number: str
    phone: str | None = None
    village: str | None = None
    suggestions_consent: bool = False
    remembered_profile: str | None = None
    dependents: tuple[Dependent, ...] = ()
    # SMS reminders to `phone`: whose number it is ("self" or "family") and when the resident agreed at the kiosk
    # (`kiosk.booking.REMINDER_NOTICE`); None: no agreement kept (a number typed by staff, or none given).
    reminder_owner: str | None = None
    reminder_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Booking:
    id: str
    code: str
    session_id: str
    resident_id: str
    status: BookingStatus
    dependent_id: str | None = None
    channel: Channel = Channel.SELF
    staff_id: str | None = None
    lease: bool = False
    waitlist: bool = False
    version: int = 0
    message: str = ""
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass(frozen=True, slots=True)
class Feedback:
    id: str
    booking_id: str
    rating: int
    reasons: tuple[str, ...] = ()
    comment: str | None = None


# The fixed reasons a resident may tick with a rating ("a few fixed phrases", #18), as msgids: the kiosk shows them in
# the resident's language, the township keeps only these (anything else a kiosk sends is dropped).
FEEDBACK_REASONS: tuple[str, ...] = (
    N_("The doctor or teacher explained clearly"),
    N_("I waited too long"),
    N_("The sound was hard to hear"),
    N_("The video kept stopping"),
    N_("The staff were helpful"),
)
