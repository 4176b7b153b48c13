"""What the kiosk window works with: the store and rules, speech and voice, the op runner — and the resident's visit.

`Visit` holds everything one resident has chosen or typed. Screens keep nothing personal themselves: they draw from
the visit, so going back one screen never loses an entry, and `KioskContext.end_visit()` forgets it all at once: at
the idle timeout, at 完成, and whenever the kiosk arrives home with anything personal in the visit (首页, 返回 back to
home, the voice command) — unless the resident chose 「还要办别的事」 on the done screen (`KioskWindow.continue_visit`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kiosk import settings as S
from kiosk.accessibility.api import SpeechOut, VoiceIn
from kiosk.accessibility.profiles import Profile
from kiosk.accessibility.profiles import profile as profile_by_name
from kiosk.settings import Settings
from kiosk.store import Store, utc_now
from kiosk.ui.ops import OpRunner

if TYPE_CHECKING:
    from cunzhan.models import Booking, Dependent, Resident, ServiceKind
    from kiosk.booking import Bookings
    from kiosk.sync.ratings import Elsewhere


PERSONAL = (
    "resident",
    "dependent",
    "booking",
    "id_entry",
    "code_entry",
    "birth_year",
    "relation",
    "for_dependent",
    "reschedule_of",
    "rating",
    "reasons",
    "phone_owner",
    "phone_entry",
    "rating_invited",
    "rating_elsewhere",
    "comment",
    "comment_heard",
)


@dataclass
class Visit:
    """One resident's choices and entries, from the first touch to the end of the visit; a new one per visit."""

    kind: ServiceKind | None = None
    service_id: str | None = None
    provider_id: str | None = None  # None: any doctor or teacher
    day: dt.date | None = None
    session_id: str | None = None
    for_dependent: bool = False
    relation: str = ""  # message id of the relation (grandson, granddaughter, …)
    birth_year: str = ""  # typed on the keypad
    id_entry: str = ""  # the ID number as typed so far
    code_entry: str = ""  # a booking code as typed so far
    purpose: str = "book"  # why the resident identifies: book, bookings, check_in, for_you
    resident: Resident | None = None
    dependent: Dependent | None = None
    booking: Booking | None = None  # the booking just made, checked in or being looked at
    reschedule_of: str | None = None  # booking id being moved to another session
    rating: int = 0
    reasons: list[str] = field(default_factory=list)  # feedback reasons chosen
    comment: str = ""  # the resident's comment kept to send with the rating (screens/comment)
    comment_heard: str = ""  # a comment recognised, shown and read back, not yet kept or dropped
    alternatives: tuple[str, ...] = ()  # session ids offered when the chosen one filled up
    consent_at: dt.datetime | None = (
        None  # when the resident agreed to the personal-data notice (screens/consent)
    )
    # The answer to 「留个手机号…」 (screens/phone): self, family or none; "" not asked yet.
    phone_owner: str = ""
    phone_entry: str = ""  # the mobile number as typed so far
    # The attended booking the resident was invited to rate in this visit (screens/rate_invite).
    rating_invited: str = ""
    # The township's invitation to rate a session booked at another kiosk (kiosk/sync/ratings.py); asked once.
    rating_elsewhere: Elsewhere | None = None
    asked_elsewhere: bool = False
    no_session_for: tuple[str, ...] = ()  # services searched with no open session, counted once (screens/day)
    full_for: tuple[str, ...] = ()  # sessions touched while full, counted once (screens/timeslot)

    def has_personal(self) -> bool:
        """Anything that tells who the resident is or that they typed: who they are, who it is for, a booking,
        an entry, a rating. A service or day chosen alone is not personal."""
        fresh = Visit()
        return any(getattr(self, name) != getattr(fresh, name) for name in PERSONAL)

    def is_empty(self) -> bool:
        """Nothing chosen or typed: every field still holds its default."""
        return self == Visit()


class KioskContext:
    """The window's collaborators. One per window; tests build one around a temporary store."""

    def __init__(
        self,
        *,
        store: Store,
        speech: SpeechOut,
        voice: VoiceIn,
        ops: OpRunner,
        profile: Profile | None = None,
        dpi: float | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.store = store
        self.settings = Settings(store.stored_settings())
        self.speech = speech
        self.voice = voice
        self.ops = ops
        self.clock = clock
        self.default_profile = profile or profile_by_name(
            str(self.settings.get(S.PROFILE_DEFAULT)) or "standard"
        )
        self.profile = self.default_profile
        override = float(self.settings.get(S.DPI_OVERRIDE) or 0)
        self.dpi_override = override if override > 0 else None
        self.screen_dpi = dpi
        self._zone: dt.tzinfo | None = None
        self._zone_name = ""
        self._bookings: Bookings | None = None
        self.visit = Visit()

    @property
    def bookings(self) -> Bookings:
        """The booking rules over the store, with this kiosk's windows (made on first use: home needs none)."""
        if self._bookings is None:
            from kiosk.booking import BookingRules, Bookings

            self._bookings = Bookings(
                self.store,
                rules=BookingRules(
                    cancel_window=dt.timedelta(hours=int(self.settings.get(S.CANCEL_WINDOW_HOURS))),
                    check_in_early=dt.timedelta(minutes=int(self.settings.get(S.CHECK_IN_EARLY_MINUTES))),
                ),
            )
        return self._bookings

    @bookings.setter
    def bookings(self, bookings: Bookings) -> None:
        self._bookings = bookings

    @property
    def dpi(self) -> float | None:
        """The DPI sizes are computed with: the override setting, else what the screen reports."""
        return self.dpi_override or self.screen_dpi

    @property
    def zone(self) -> dt.tzinfo:
        """The kiosk's time zone (the `timezone` setting: the township's, from sync), loaded when it changes."""
        name = str(self.settings.get(S.TIMEZONE))
        if self._zone is None or self._zone_name != name:
            import zoneinfo

            self._zone, self._zone_name = zoneinfo.ZoneInfo(name), name
        return self._zone

    def now(self) -> dt.datetime:
        return self.clock()

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.zone)

    def today(self) -> dt.date:
        return self.local(self.now()).date()

    def end_visit(self) -> None:
        """Forget everything the resident entered and go back to the kiosk's default profile and voice."""
        self.visit = Visit()
        self.profile = self.default_profile
        self.speech.reset()
