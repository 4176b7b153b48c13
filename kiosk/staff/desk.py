"""The staff desk: what a signed-in staff member does for residents, every action audited with their staff id.

Look-ups (by ID number or booking code, personal details masked), bookings, check-ins and cancellations on a
resident's behalf, today's sessions and help calls, and the staff settings. Each action is recorded in the local
`audit_log` (never with personal data in `detail`) and queued for the township (`kiosk.sync.audit`).

Nothing here imports Qt; the staff screens (`kiosk/ui/staff/`) call into `StaffDesk`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cunzhan.codes import format_code, is_valid_code, normalise_code
from cunzhan.i18n import N_, gettext
from cunzhan.identity import check_id_number, mask_phone
from cunzhan.models import Booking, Channel, Dependent, Resident, Session
from kiosk import settings as s
from kiosk.booking import Bookings
from kiosk.residents import dependent_for
from kiosk.staff.accounts import Clock, StaffError, StaffMember
from kiosk.store import Store, utc_now
from kiosk.sync.audit import queue_audit

STAFF_SETTINGS: tuple[s.Setting, ...] = (
    s.PROFILE_DEFAULT,
    s.VOLUME,
    s.IDLE_SCALE,
    s.PRIVATE_AUDIO,
    s.VOICE_MODEL_PATH,
    s.PRINTER,
    s.TOWNSHIP_URL,
)


def mask_name(name: str) -> str:
    """`张桂兰` → `张*兰`, `王芳` → `王*`: enough for staff to recognise a resident, not enough to read out."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def validate_setting(setting: s.Setting, raw: str) -> str:
    """Check a value typed or chosen in staff settings; returns the text to store. Raises `StaffError`."""
    if setting not in STAFF_SETTINGS:
        raise StaffError("setting")
    text = raw.strip()
    try:
        value: Any = s.parse(setting, text)
    except (ValueError, TypeError) as exc:
        raise StaffError("bad_value") from exc
    if setting is s.VOLUME and not 0.0 <= value <= 1.0:
        raise StaffError("bad_value", gettext(N_("Use a number from 0 to 1.")))
    if setting is s.IDLE_SCALE and not 0.5 <= value <= 5.0:
        raise StaffError("bad_value", gettext(N_("Use a number from 0.5 to 5.")))
    if setting is s.PROFILE_DEFAULT:
        from kiosk.accessibility.profiles import profile

        try:
            if not text:
                raise ValueError("empty profile")
            profile(text)
        except (KeyError, ValueError) as exc:
            raise StaffError("bad_value") from exc
    if setting is s.TOWNSHIP_URL and text:
        parts = urlsplit(text)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise StaffError("bad_value", gettext(N_("Type the address like https://township.example:8700")))
    return s.render(setting, value)


@dataclass(frozen=True, slots=True)
class SessionDay:
    """One of today's sessions for the staff list: how many are booked and how many have checked in."""

    session: Session
    service_name: str
    provider_name: str
    booked: int
    checked_in: int


@dataclass(frozen=True, slots=True)
class BookingLine:
    """A booking as staff see it: personal details masked."""

    booking: Booking
    code: str  # formatted, e.g. 07-0042-3
    masked_name: str
    masked_id: str
    for_dependent: str | None  # the dependent's relation (e.g. 孙女), never their name
    service_name: str
    starts_at: dt.datetime | None
    status_label: str
    assisted: bool


@dataclass(frozen=True, slots=True)
class Lookup:
    """A resident found by ID number, or the resident behind a booking code, with their bookings."""

    resident_id: str
    masked_name: str
    masked_id: str
    masked_phone: str
    bookings: tuple[BookingLine, ...]


class StaffDesk:
    """The actions of one signed-in staff member. Each one is audited with the staff id and queued for the township.

    `store` is where residents' bookings live: the kiosk's own store, or a practice store in practice mode (then the
    assisted bookings and look-ups of a trainee vanish with it). `kiosk_store` (default: `store`) is always the real
    one: settings, practice on/off and signing out are kiosk actions and are audited there."""

    def __init__(
        self,
        store: Store,
        staff: StaffMember,
        *,
        kiosk_store: Store | None = None,
        bookings: Bookings | None = None,
        zone: str = "Asia/Shanghai",
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.kiosk_store = kiosk_store or store
        self.staff = staff
        self.bookings = bookings or Bookings(store)
        self.zone = zoneinfo.ZoneInfo(zone)
        self.clock: Clock = clock or utc_now

    @property
    def actor(self) -> str:
        return self.staff.staff_id

    def record(self, action: str, detail: str = "", *, kiosk: bool = False) -> None:
        """Audit a staff action (no personal data in `detail`) and queue it for the township. `kiosk=True` records
        it in the kiosk's own store even in practice mode."""
        target = self.kiosk_store if kiosk else self.store
        target.audit(self.actor, action, detail)
        queue_audit(target)

    def _flush(self) -> None:
        queue_audit(self.store)

    # --- assisted booking -------------------------------------------------------------------------------------------

    def book_for(
        self,
        session_id: str,
        resident: Resident,
        dependent: Dependent | None = None,
        *,
        consent_at: dt.datetime | None = None,
    ) -> Booking:
        """Book on a resident's behalf: recorded with channel `assisted` and this staff id (booking + outbox op).
        `consent_at`: when staff confirmed the resident was told the personal-data notice and agreed (the staff
        desk's notice step, `kiosk.ui.staff.book`), sent with the booking like a resident's own consent."""
        booking = self.bookings.book(
            session_id=session_id,
            resident=resident,
            dependent=dependent,
            channel=Channel.ASSISTED,
            staff_id=self.actor,
            now=self.clock(),
            consent_at=consent_at,
        )
        self._flush()
        return booking

    def check_in_for(self, booking_id: str) -> Booking:
        booking = self.bookings.check_in(booking_id, actor=self.actor, now=self.clock())
        self._flush()
        return booking

    def dependent_for(
        self, resident: Resident, name: str, relation: str, birth_year: int | str
    ) -> tuple[Resident, Dependent]:
        """The resident's family member (e.g. a grandchild) staff book for, by the rule the resident's own booking
        uses too (`kiosk.residents.dependent_for`). Raises `StaffError` for a missing name or relation or an
        impossible birth year."""
        name, relation = name.strip(), relation.strip()
        if not name:
            raise StaffError("dependent_name")
        if not relation:
            raise StaffError("dependent_relation")
        this_year = self.clock().astimezone(self.zone).year
        try:
            year = int(str(birth_year).strip())
        except ValueError:
            raise StaffError("dependent_year") from None
        if not this_year - 120 <= year <= this_year:
            raise StaffError("dependent_year")
        return dependent_for(resident, relation, year, name)

    def cancel_for(self, booking_id: str) -> Booking:
        """Cancel a booking on a resident's behalf.

        Decision: staff may cancel ANY active booking whose session has not started, also inside the residents'
        cancellation window (`BookingRules.cancel_window`). The window is there so a resident alone at the kiosk
        does not drop a seat at the last minute by mistake; a staff member at the desk is talking to the person
        (or took their call) and can free the seat for someone waiting. The township applies the same rule (a
        cancel op is refused only once the session started). A cancellation inside the window is audited as
        `staff_cancel_late` on top of the usual `booking_cancelled`."""
        now = self.clock()
        before = self.store.booking(booking_id)
        session = self.store.session(before.session_id) if before else None
        booking = self.bookings.cancel(
            booking_id, reason="cancelled by village staff", actor=self.actor, now=now, override_window=True
        )
        if session is not None and session.starts_at - now < self.bookings.rules.cancel_window:
            self.store.audit(self.actor, "staff_cancel_late", booking.code)
        self._flush()
        return booking

    # --- today and look-up ------------------------------------------------------------------------------------------

    def todays_sessions(self) -> list[SessionDay]:
        """Today's sessions (in the kiosk's zone), with booked and checked-in counts."""
        local = self.clock().astimezone(self.zone)
        start = dt.datetime(local.year, local.month, local.day, tzinfo=self.zone)
        end = start + dt.timedelta(days=1)
        sessions = self.store.sessions_between(start.astimezone(dt.UTC), end.astimezone(dt.UTC))
        counts = self.store.day_counts(start, end)
        out = []
        for sess in sessions:
            service = self.store.service(sess.service_id)
            provider = self.store.provider(sess.provider_id)
            booked, checked_in = counts.get(sess.id, (0, 0))
            out.append(
                SessionDay(
                    sess,
                    service.name if service else "",
                    provider.name if provider else "",
                    booked,
                    checked_in,
                )
            )
        return out

    def help_calls_today(self) -> tuple[int, dt.datetime | None]:
        """How often residents touched 「呼叫工作人员」 today (kiosk's zone), and when last."""
        local = self.clock().astimezone(self.zone)
        start = dt.datetime(local.year, local.month, local.day, tzinfo=self.zone)
        return self.kiosk_store.help_calls_since(start)

    def session_bookings(self, session_id: str) -> list[BookingLine]:
        """The bookings of one session, masked, for checking people in."""
        self.record("session_bookings_viewed", session_id)
        return [self._line(b) for b in self.store.bookings_for_session(session_id)]

    def lookup_by_id(self, id_number: str) -> Lookup | None:
        """Find a resident by ID number (typed by staff). Audited without the number."""
        check = check_id_number(id_number)
        if not check.ok or check.number is None:
            raise StaffError("bad_id")
        resident = self.store.find_resident(check.number)
        self.record("resident_lookup", "by=id found=" + ("yes" if resident else "no"))
        return self.resident_bookings(resident.id) if resident else None

    def lookup_by_code(self, code: str) -> Lookup | None:
        """Find the resident behind a booking code. Audited with the code (not personal data)."""
        digits = normalise_code(code)
        if not is_valid_code(digits):
            raise StaffError("bad_code")
        booking = self.store.booking_by_code(digits)
        self.record("resident_lookup", f"by=code {digits} found=" + ("yes" if booking else "no"))
        return self.resident_bookings(booking.resident_id) if booking else None

    def resident_bookings(self, resident_id: str) -> Lookup | None:
        """A resident already found (by look-up) with their bookings, refreshed from the store (not audited again)."""
        resident = self.store.resident(resident_id)
        if resident is None:
            return None
        lines = tuple(self._line(b) for b in self.store.bookings_for_resident(resident_id))
        return Lookup(
            resident.id,
            mask_name(resident.name),
            self.store.resident_masked_id(resident.id),
            mask_phone(resident.phone) if resident.phone else "",
            lines,
        )

    def _line(self, booking: Booking) -> BookingLine:
        session = self.store.session(booking.session_id)
        service = self.store.service(session.service_id) if session else None
        resident = self.store.resident(booking.resident_id)
        dependent = self.store.dependent(booking.dependent_id) if booking.dependent_id else None
        return BookingLine(
            booking,
            format_code(booking.code),
            mask_name(resident.name) if resident else "",
            self.store.resident_masked_id(booking.resident_id),
            dependent.relation if dependent else None,
            service.name if service else "",
            session.starts_at if session else None,
            booking.status.label(),
            booking.channel is Channel.ASSISTED,
        )

    # --- settings and kiosk ---------------------------------------------------------------------------------------

    def change_setting(self, setting: s.Setting, raw: str) -> str:
        """Validate and store a kiosk setting with this staff member as the actor (audited by the store)."""
        value = validate_setting(setting, raw)
        self.kiosk_store.set_setting(setting.key, value, actor=self.actor)
        queue_audit(self.kiosk_store)
        return value

    def settings(self) -> s.Settings:
        return s.Settings(self.kiosk_store.stored_settings())

    def set_practice(self, on: bool) -> None:
        """Switch practice mode, remembered across restarts (a training kiosk stays in practice)."""
        self.kiosk_store.set_setting(s.PRACTICE_MODE.key, s.render(s.PRACTICE_MODE, on), actor=self.actor)
        self.record("practice_on" if on else "practice_off", kiosk=True)

    def sign_out(self) -> None:
        self.record("staff_signed_out", kiosk=True)
