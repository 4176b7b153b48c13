"""The kiosk ⇄ township wire format, v1 (docs/sync.md). The one definition both sides import.

Pydantic models validate every request and response. Unknown fields are refused on requests (a typo must not be
silently dropped) and ignored on responses (an older kiosk keeps working with a newer backend).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

API_PREFIX = "/v1"
MAX_PUSH_OPS = 500
MAX_BODY_BYTES = 1024 * 1024
KIOSK_BATCH = 200
PULL_DEFAULT_LIMIT = 500
PULL_MAX_LIMIT = 1000

Entity = Literal["booking", "feedback", "audit"]
OpKind = Literal["create", "cancel", "reschedule", "check_in", "submit", "batch"]
Outcome = Literal["applied", "rejected"]
Reason = Literal["slot_full", "session_cancelled", "session_closed", "not_found", "invalid", "op_id_reused",
                 "duplicate_booking", "too_late"]
ChangeEntity = Literal["service", "provider", "session", "booking", "lease", "notice"]
BookingStatusWire = Literal["pending_review", "confirmed", "waitlisted", "rejected", "cancelled", "checked_in",
                            "attended", "no_show"]

# Which payload each (entity, kind) carries.
ALLOWED_KINDS: dict[str, frozenset[str]] = {
    "booking": frozenset({"create", "cancel", "reschedule", "check_in"}),
    "feedback": frozenset({"submit"}),
    "audit": frozenset({"batch"}),
}


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _uuid_text(value: str) -> str:
    return str(uuid.UUID(value))


class Resident(_Request):
    id: str
    name: Annotated[str, Field(min_length=1, max_length=64)]
    id_number: Annotated[str, Field(min_length=18, max_length=18)]
    phone: str | None = None
    village: str | None = None


class Dependent(_Request):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    relation: Annotated[str, Field(min_length=1, max_length=32)]
    birth_year: int | None = None


class BookingCreate(_Request):
    session_id: str
    code: Annotated[str, Field(min_length=4, max_length=16)]
    resident: Resident
    for_dependent: Dependent | None = None
    channel: Literal["self", "assisted"] = "self"
    staff_id: str | None = None
    lease: bool = False
    waitlist: bool = False


class BookingCancel(_Request):
    reason: str | None = None


class BookingReschedule(_Request):
    session_id: str


class BookingCheckIn(_Request):
    pass


class FeedbackSubmit(_Request):
    booking_id: str
    rating: Annotated[int, Field(ge=1, le=5)]
    reasons: list[str] = Field(default_factory=list)
    comment: str | None = None


class AuditEntry(_Request):
    """One row of a kiosk's local audit log: a staff action, never with personal data (kiosk.staff)."""

    seq: Annotated[int, Field(ge=1)]  # the kiosk's audit_log id: unique per kiosk, increasing
    at: str  # kiosk clock, UTC ISO-8601 (display only)
    actor: Annotated[str, Field(min_length=1, max_length=64)]  # staff number, `system`, `unknown`, `enrolment`
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
    ("feedback", "submit"): FeedbackSubmit,
    ("audit", "batch"): AuditBatch,
}


class Op(_Request):
    """One outbox row. The payload is checked per (entity, kind) by `parse_payload`, op by op, so that one bad op
    is rejected as `invalid` without failing the whole request."""

    op_id: str
    device_seq: Annotated[int, Field(ge=1)]
    entity: str
    entity_id: str
    kind: str
    base_version: int | None = None
    payload: dict[str, Any]
    created_at: str

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
    device_id: str
    ops: Annotated[list[Op], Field(max_length=MAX_PUSH_OPS)]
    pending_ops: int | None = None  # how many ops the kiosk still holds after this batch (shown in the console)
    app_version: str | None = None


class BookingSummary(_Response):
    id: str
    status: str
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


class EnrollRequest(_Request):
    enrollment_code: Annotated[str, Field(min_length=4, max_length=64)]
    kiosk_name: Annotated[str, Field(min_length=1, max_length=100)]
    app_version: str


class EnrollResponse(_Response):
    device_id: str
    device_token: str
    township_id: str
    kiosk_number: int


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
