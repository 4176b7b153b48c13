"""The kiosk ⇄ township wire format, v1 (docs/sync.md). The one definition both sides import.

Pydantic models validate every request and response. Unknown fields are refused on requests (a typo must not be
silently dropped) and ignored on responses (an older kiosk keeps working with a newer backend).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cunzhan.models import BookingStatus

API_PREFIX = "/v1"
MAX_PUSH_OPS = 500
MAX_BODY_BYTES = 1024 * 1024
KIOSK_BATCH = 200
PULL_DEFAULT_LIMIT = 500
PULL_MAX_LIMIT = 1000
MAX_PENDING_OPS = 2**31 - 1
MAX_AUDIT_ENTRIES_PER_PUSH = 1000
# The actions a kiosk may report in its audit batches (kiosk.staff, kiosk.booking, kiosk.ui): anything else is kept
# as `kiosk_other`, so that a kiosk cannot write a console action (such as `booking_confirmed`) into the trail.
KIOSK_AUDIT_ACTIONS = frozenset(
    {
        "booking_cancelled",
        "booking_checked_in",
        "booking_created",
        "booking_rescheduled",
        "call_list_printed",
        "call_list_viewed",
        "diagnostics_exported",
        "kiosk_enrol_failed",
        "kiosk_enrolled",
        "kiosk_exit",
        "kiosk_reenrolled",
        "left_kiosk",
        "practice_on",
        "practice_off",
        "resident_lookup",
        "session_bookings_viewed",
        "setting_changed",
        "staff_added",
        "staff_called",
        "staff_cancel_late",
        "staff_deactivated",
        "staff_lockout_cleared",
        "staff_pin_changed",
        "staff_pin_locked",
        "staff_pin_revoked",
        "staff_pin_wrong",
        "staff_provision_skipped",
        "staff_signed_in",
        "staff_signed_out",
        "sync_now",
    }
)

Outcome = Literal["applied", "rejected"]
Reason = Literal[
    "slot_full",
    "session_cancelled",
    "session_closed",
    "not_found",
    "invalid",
    "op_id_reused",
    "duplicate_booking",
    "too_late",
]
ChangeEntity = Literal["service", "provider", "session", "booking", "lease", "notice"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text(cls, value: Any) -> Any:
        """No NUL characters (PostgreSQL text cannot hold them) and no lone surrogates (not Unicode text)."""
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and not is_plain_text(text):
                raise ValueError("text with a NUL character or a lone surrogate")
        return value


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


def is_plain_text(text: str) -> bool:
    """Whether `text` can be stored and sent as UTF-8 text: no NUL, no lone surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _uuid_text(value: str) -> str:
    return str(uuid.UUID(value))


# Every string on the wire has a bound: oversized input is an `invalid` op, never a database error.
_Id = Annotated[str, Field(max_length=64)]


class Resident(_Request):
    id: _Id
    name: Annotated[str, Field(min_length=1, max_length=64)]
    id_number: Annotated[str, Field(min_length=18, max_length=18)]
    phone: Annotated[str, Field(max_length=20)] | None = None
    village: Annotated[str, Field(max_length=100)] | None = None


class Dependent(_Request):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    relation: Annotated[str, Field(min_length=1, max_length=32)]
    birth_year: int | None = None


class Consent(_Request):
    """The resident agreed to the personal-data notice `notice` (its version) at `at` (kiosk clock, ISO-8601)."""

    notice: Annotated[str, Field(min_length=1, max_length=16)]
    at: Annotated[str, Field(max_length=40)]


class ReminderConsent(_Request):
    """The resident agreed at the kiosk to SMS reminders to `resident.phone` (notice version `notice`, at `at`, kiosk
    clock), their own number or a family member's (`owner`). Absent: no reminders unless staff entered the number."""

    notice: Annotated[str, Field(min_length=1, max_length=16)]
    at: Annotated[str, Field(max_length=40)]
    owner: Literal["self", "family"]


class BookingCreate(_Request):
    session_id: _Id
    code: Annotated[str, Field(min_length=4, max_length=16)]
    resident: Resident
    for_dependent: Dependent | None = None
    channel: Literal["self", "assisted"] = "self"
    staff_id: Annotated[str, Field(max_length=64)] | None = None
    lease: bool = False
    waitlist: bool = False
    consent: Consent | None = None  # absent: booked by staff, or by a kiosk from before the notice
    reminders: ReminderConsent | None = None  # SMS reminders agreed to with the phone (#16)


class BookingCancel(_Request):
    reason: Annotated[str, Field(max_length=200)] | None = None


class BookingReschedule(_Request):
    session_id: _Id


QueueNumber = Annotated[int, Field(ge=1, le=9999)]


class BookingCheckIn(_Request):
    # The resident's number in the waiting room: per session and kiosk, given at check-in (#16). None: a kiosk
    # from before queue numbers.
    queue_number: QueueNumber | None = None


CallAction = Literal["call", "recall", "skip"]


class RoomCall(_Request):
    """`call`/`announce`: the village staff called a number from the kiosk's staff mode (叫下一位 / 重叫 / 过号).

    The entity id of the op is the booking's id; the backend records the call for the session's roster."""

    session_id: _Id
    queue_number: QueueNumber
    action: CallAction
    at: Annotated[str, Field(max_length=40)]  # kiosk clock, ISO-8601


class FeedbackSubmit(_Request):
    booking_id: _Id
    rating: Annotated[int, Field(ge=1, le=5)]
    reasons: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)] = Field(
        default_factory=list
    )
    comment: Annotated[str, Field(max_length=500)] | None = None


class DemandSearch(_Request):
    """`demand`/`no_session`: a resident looked for this service at a kiosk and no session was open in the booking
    horizon (#18). No personal data: the village the kiosk serves, the day and time wanted when known, when."""

    service_id: _Id
    village: Annotated[str, Field(max_length=100)] | None = None
    wanted_at: Annotated[str, Field(max_length=40)] | None = None  # kiosk clock, ISO-8601
    at: Annotated[str, Field(max_length=40)]  # kiosk clock, ISO-8601


class DemandFull(_Request):
    """`demand`/`slot_full`: a resident touched a full time of this session at a kiosk (#18), counted once per
    session and visit. No personal data: the village the kiosk serves, when."""

    session_id: _Id
    village: Annotated[str, Field(max_length=100)] | None = None
    at: Annotated[str, Field(max_length=40)]  # kiosk clock, ISO-8601


class AuditEntry(_Request):
    """One row of a kiosk's local audit log: a staff action, never with personal data (kiosk.staff)."""

    seq: Annotated[int, Field(ge=1, lt=2**63)]  # the kiosk's audit_log id: unique per kiosk, increasing
    at: Annotated[str, Field(max_length=40)]  # kiosk clock, UTC ISO-8601 (display only)
    actor: Annotated[
        str, Field(min_length=1, max_length=64)
    ]  # staff number, `system`, `unknown`, `enrolment`
    action: Annotated[str, Field(min_length=1, max_length=64)]
    detail: Annotated[str, Field(max_length=200)] = ""


class AuditBatch(_Request):
    """`audit`/`batch`: the kiosk's staff audit rows not sent before (at most 200 per op)."""

    entries: Annotated[list[AuditEntry], Field(min_length=1, max_length=200)]


PAYLOADS: dict[tuple[str, str], type[_Request]] = {
    ("booking", "create"): BookingCreate,
    ("booking", "cancel"): BookingCancel,
    ("booking", "reschedule"): BookingReschedule,
    ("booking", "check_in"): BookingCheckIn,
    ("call", "announce"): RoomCall,
    ("feedback", "submit"): FeedbackSubmit,
    ("demand", "no_session"): DemandSearch,
    ("demand", "slot_full"): DemandFull,
    ("audit", "batch"): AuditBatch,
}


class Op(_Request):
    """One outbox row. The payload is checked per (entity, kind) by `parse_payload`, op by op, so that one bad op
    is rejected as `invalid` without failing the whole request."""

    op_id: Annotated[str, Field(max_length=100)]
    device_seq: Annotated[int, Field(ge=1, lt=2**63)]
    entity: Annotated[str, Field(max_length=16)]
    entity_id: Annotated[str, Field(max_length=100)]
    kind: Annotated[str, Field(max_length=16)]
    base_version: Annotated[int, Field(ge=0, lt=2**31)] | None = None
    payload: dict[str, Any]
    created_at: Annotated[str, Field(max_length=40)]

    @field_validator("op_id", "entity_id")
    @classmethod
    def _is_uuid(cls, value: str) -> str:
        return _uuid_text(value)


def parse_payload(op: Op) -> _Request:
    """The typed payload of `op`; raises ValueError (→ per-op `invalid`) for unknown entities, kinds or fields."""
    model = PAYLOADS.get((op.entity, op.kind))
    if model is None:
        raise ValueError(f"unknown entity/kind {op.entity}/{op.kind}")
    return model.model_validate(op.payload)


class PushRequest(_Request):
    device_id: Annotated[str, Field(max_length=64)]
    ops: Annotated[list[Op], Field(max_length=MAX_PUSH_OPS)]
    # How many ops the kiosk still holds after this batch (shown in the console).
    pending_ops: Annotated[int, Field(ge=0, le=MAX_PENDING_OPS)] | None = None
    app_version: Annotated[str, Field(max_length=64)] | None = None


class BookingSummary(_Response):
    id: str
    status: BookingStatus  # on the wire as its value ("confirmed"); the backend never sends `requested`
    code: str
    session_id: str
    version: int


class Alternative(_Response):
    session_id: str
    starts_at: str
    seats_left: int


class Result(_Response):
    op_id: str
    outcome: Outcome
    replayed: bool = False
    reason: Reason | None = None
    message: str = ""
    booking: BookingSummary | None = None
    alternatives: list[Alternative] = Field(default_factory=list)


class PushResponse(_Response):
    results: list[Result]
    server_time: str


class Change(_Response):
    """One row of the township's change log. A booking's `data` is its summary plus `message`, and `"erased": true`
    once the township has erased its resident's personal data (the kiosk then erases its own copy:
    `kiosk.store.Store.erase_booking`; docs/sync.md, "Erasure"). No change ever carries personal data. A booking the
    township made by phone for a kiosk also carries `"match"`: `cunzhan.fieldcrypto.match_hash` of the resident's ID
    number under that kiosk's match key (docs/sync.md, "Phone bookings"), never the number itself."""

    seq: int
    entity: ChangeEntity
    entity_id: str
    op: Literal["upsert", "delete"]
    version: int
    data: dict[str, Any] = Field(default_factory=dict)


class PullResponse(_Response):
    changes: list[Change]
    next_cursor: str
    has_more: bool
    server_time: str
    # The kiosk's match key (64 hex digits), sent only with a page that holds a phone booking's `match`.
    match_key: str | None = None
    zone: str | None = None  # the township's time zone now, on every page (none: an older backend)


class Call(_Response):
    """One call for a kiosk's waiting room, made from the console (the doctor or teacher) or by its own staff.

    Shown and announced by number only ("请 3 号 到 远程诊室"), never by name; `room` is the room's name as the
    township calls it (empty: the kiosk's own name for its room)."""

    seq: int  # increasing per backend; the kiosk asks for calls after the last it has seen
    session_id: str
    booking_id: str
    queue_number: int
    action: CallAction
    room: str = ""
    at: str  # UTC ISO-8601


# GET /v1/calls?after=SEQ&wait=SECONDS: the calls for this kiosk after SEQ, held open up to `wait` seconds (at most
# CALLS_MAX_WAIT) until there is one, so that a call made in the console reaches an online kiosk at once.
CALLS_MAX_WAIT = 25


class CallsResponse(_Response):
    calls: list[Call]
    last_seq: int  # the highest seq the kiosk may ask after next time (also when `calls` is empty)
    server_time: str


class RatingAsk(_Request):
    """`POST /v1/ratings/ask` (#16): a resident identified at this kiosk; is there a session they attended, booked at
    another kiosk of the township, that they have not rated? Asked once per booking, township-wide."""

    id_number: Annotated[str, Field(min_length=18, max_length=18)]


class RatingInvitation(_Response):
    """The attended booking to invite the resident to rate: its id (for the feedback op), the service's name and
    when the session was. Nothing else: not the booking's code, provider, or who booked it."""

    booking_id: str
    service: str
    starts_at: str  # UTC ISO-8601


class RatingAskResponse(_Response):
    invitation: RatingInvitation | None = None
    server_time: str


class EnrollRequest(_Request):
    enrollment_code: Annotated[str, Field(min_length=4, max_length=64)]
    kiosk_name: Annotated[str, Field(min_length=1, max_length=100)]
    app_version: Annotated[str, Field(max_length=64)]


class EnrollResponse(_Response):
    device_id: str
    device_token: str
    township_id: str
    kiosk_number: int
    zone: str | None = (
        None  # the township's time zone (IANA name): the kiosk shows times in it (none: older backend)
    )


class Health(_Response):
    status: Literal["ok"]
    server_time: str


class ErrorBody(_Response):
    error: str
    message: str


# Error codes for whole-request failures (HTTP status in brackets).
ERROR_MALFORMED = "malformed"  # 400
ERROR_UNAUTHORIZED = "unauthorized"  # 401
ERROR_FORBIDDEN = "forbidden"  # 403 revoked or wrong device, bad enrolment code
ERROR_CURSOR_EXPIRED = "cursor_expired"  # 410
ERROR_TOO_LARGE = "too_large"  # 413
ERROR_BUSY = "busy"  # 429 / 503 with Retry-After

# Optional request header: the kiosk's clock (UTC ISO-8601) so the backend can show staff each kiosk's clock skew.
CLIENT_TIME_HEADER = "X-Cunzhan-Client-Time"


def utc_now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
