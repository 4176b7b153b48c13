"""What staff mode keeps while a staff member is signed in at one window: who, the desk, practice mode, drafts.

Nothing here outlives the staff session: `sign_out()` (or a new PIN entry) forgets the member, the assisted-booking
draft and any look-up result. Staff PINs, settings and the practice switch always use the kiosk's real store
(`kiosk.practice.kiosk_store`); residents' bookings use `ctx.store`, which is the practice store in practice mode.
"""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kiosk.booking import Bookings
from kiosk.practice import PracticeSession, banner_text, is_practice_store, kiosk_store
from kiosk.staff.accounts import StaffAccounts, StaffMember
from kiosk.staff.desk import Lookup, StaffDesk
from kiosk.store import Store
from kiosk.store.sync_state import SyncKey

if TYPE_CHECKING:
    from kiosk.ui.window import KioskWindow


@dataclass
class AssistDraft:
    """The assisted booking being prepared (cleared after it is written or when staff sign out)."""

    service_id: str | None = None
    session_id: str | None = None
    id_entry: str = ""
    name: str = ""
    phone: str = ""
    resident: Any = (
        None  # cunzhan.models.Resident once identified (with the dependent added when booking for one)
    )
    for_family: bool = False  # booking for the resident's family member (a grandchild, …)
    dep_name: str = ""
    dep_relation: str = ""  # message id from kiosk.ui.screens.who.RELATIONS
    dep_year: str = ""
    dependent: Any = None  # cunzhan.models.Dependent once checked
    consent_at: dt.datetime | None = None  # when staff confirmed the resident heard the notice and agreed
    declined: bool = False  # the resident did not agree: nothing booked, their details dropped
    done_code: str = ""
    done_status: str = ""


@dataclass
class SetupDraft:
    """A new staff member being set up: number and name typed, the PIN typed twice on the keypad."""

    staff_id: str = ""
    name: str = ""
    pin: str = ""
    first_pin: str = ""  # the first entry, kept until the second one matches


@dataclass
class EnrolDraft:
    server: str = ""
    code: str = ""
    kiosk_name: str = ""


@dataclass
class StaffState:
    """Staff mode's state for one kiosk window."""

    window: KioskWindow
    member: StaffMember | None = None
    practice: PracticeSession | None = None
    worker: Any = None  # a kiosk.sync.worker.SyncWorker started after enrolment from staff mode
    draft: AssistDraft = field(default_factory=AssistDraft)
    setup: SetupDraft = field(default_factory=SetupDraft)
    enrol: EnrolDraft = field(default_factory=EnrolDraft)
    lookup: Lookup | None = None
    lookup_mode: str = "id"  # id | code
    lookup_entry: str = ""
    session_id: str | None = None  # the session whose bookings are shown
    setting_key: str | None = None  # the setting being edited
    setting_text: str = ""
    # True only between this window's successful enrolment of a kiosk with no staff and the first staff member's
    # set-up: the township's acceptance of the code is what authorises that one set-up (kiosk.staff).
    first_staff_allowed: bool = False
    selected: Any = None  # the kiosk.staff.BookingLine chosen on the look-up screen
    confirm_cancel: bool = False  # the look-up's booking screen is asking "cancel this booking?"

    @property
    def real(self) -> Store:
        """The kiosk's own store (never the practice copy)."""
        return kiosk_store(self.window.ctx.store)

    @property
    def accounts(self) -> StaffAccounts:
        return StaffAccounts(self.real)

    @property
    def desk(self) -> StaffDesk:
        """The signed-in member's desk over the current stores (raises when nobody is signed in)."""
        if self.member is None:
            raise PermissionError("no staff member is signed in")
        ctx = self.window.ctx
        return StaffDesk(
            ctx.store,
            self.member,
            kiosk_store=self.real,
            bookings=ctx.bookings,
            zone=str(ctx.zone),
            clock=ctx.clock,
        )

    @property
    def in_practice(self) -> bool:
        return is_practice_store(self.window.ctx.store)

    def sign_in(self, member: StaffMember) -> None:
        self.forget()
        self.member = member

    def sign_out(self) -> None:
        """Record the sign-out and forget everything of this staff session."""
        if self.member is not None:
            self.desk.sign_out()
        self.member = None
        self.forget()

    def forget(self) -> None:
        self.draft = AssistDraft()
        self.setup = SetupDraft()
        self.enrol = EnrolDraft()
        self.lookup = None
        self.lookup_entry = ""
        self.session_id = None
        self.setting_key = None
        self.setting_text = ""
        self.first_staff_allowed = False
        self.selected = None
        self.confirm_cancel = False

    # --- practice mode ----------------------------------------------------------------------------------------------

    def set_practice(self, on: bool) -> None:
        """Switch the resident screens to a throw-away practice store (or back), with the banner on every screen."""
        window = self.window
        ctx = window.ctx
        real = self.real
        if on and not self.in_practice:
            self.practice = PracticeSession(real)
            self._use_store(self.practice.store)
        elif not on and self.in_practice:
            self._use_store(real)
            if self.practice is not None:
                self.practice.close()
                self.practice = None
        if self.member is not None:
            self.desk.set_practice(on)
        if not on:
            self.ensure_sync()  # a kiosk that started in practice mode did not start syncing
        ctx.visit = type(ctx.visit)()  # nothing a resident typed crosses between practice and real
        self.draft = AssistDraft()
        self.lookup = None
        show_practice_banner(window, on)

    def ensure_sync(self) -> None:
        """Start the sync worker on the real store when the kiosk is enrolled and none runs (after enrolment from
        staff mode, or leaving a practice mode the kiosk started in); wake it when one runs."""
        running = self.worker or getattr(self.window, "sync_worker", None)
        if running is not None and getattr(running, "running", False):
            running.sync_now()
            return
        if not self.real.state(SyncKey.DEVICE_ID):
            return
        try:
            from kiosk.sync.worker import start_if_enrolled
        except ImportError:
            return
        window = self.window
        # on_change gets a SyncStatus on the worker thread; the window's signal takes none and is queued.
        self.worker = start_if_enrolled(self.real.path, lambda _status: window.sync_changed.emit())

    def _use_store(self, store: Store) -> None:
        ctx = self.window.ctx
        ctx.store = store
        ctx.bookings = Bookings(store, rules=ctx.bookings.rules)


_STATES: weakref.WeakKeyDictionary[KioskWindow, StaffState] = weakref.WeakKeyDictionary()


def staff_state(window: KioskWindow) -> StaffState:
    """The staff state of `window` (made on first use)."""
    state = _STATES.get(window)
    if state is None:
        state = StaffState(window)
        _STATES[window] = state
    return state


def show_practice_banner(window: KioskWindow, on: bool) -> None:
    """Show (or hide) the practice banner under the title bar. The window draws one itself when it starts in
    practice mode; switching at run time from staff mode adds or hides it here."""
    from PySide6.QtWidgets import QLabel, QVBoxLayout

    from kiosk.ui import widgets

    banner = window.findChild(QLabel, "practice_banner")
    if banner is None and on:
        banner = widgets.label(banner_text(), kind="notice", name="practice_banner")
        layout = window.layout()
        if isinstance(layout, QVBoxLayout):
            layout.insertWidget(1, banner)
    if banner is not None:
        banner.setText(banner_text())
        banner.setAccessibleName(banner_text())
        banner.setVisible(on)
