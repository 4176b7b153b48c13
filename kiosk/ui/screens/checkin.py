"""Check in on the day, with the booking code or the ID number; then where to go, or the video session opening."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QVBoxLayout, QWidget

from cunzhan.codes import format_code, is_valid_code, normalise_code
from cunzhan.i18n import gettext as _
from cunzhan.i18n import sentences
from cunzhan.models import Booking, BookingStatus
from kiosk import settings as S
from kiosk.booking import BookingRefused
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, KeypadEntry, Screen, typed
from kiosk.ui.screens.confirm import SAVE_FAILED, session_words

CODE_MAX = 8


def queue_words(number: int) -> str:
    """A waiting-room number as shown on the check-in screen and the slip: 「3 号」."""
    return _("No. {number}").format(number=number)


def check_in_booking(screen: Screen, booking: Booking) -> None:
    """Check `booking` in (through the op runner) and show where to go, or a kind refusal on `screen`."""
    bookings, now = screen.ctx.bookings, screen.ctx.now()

    def done(checked: Booking) -> None:
        screen.visit.booking = checked
        screen.win.show_screen("checked_in", remember=False)

    def refused(exc: BaseException) -> None:
        screen.show_message(exc.message() if isinstance(exc, BookingRefused) else _(SAVE_FAILED))

    screen.ctx.ops.write(lambda: bookings.check_in(booking.id, now=now), on_done=done, on_error=refused)


def check_in_resident(screen: Screen) -> None:
    """After identifying by ID: check in the resident's booking that starts soonest today."""
    resident = screen.visit.resident
    if resident is None:
        return
    today = screen.ctx.today()
    candidates = []
    for booking in screen.ctx.store.bookings_for_resident(resident.id):
        session = screen.ctx.store.session(booking.session_id)
        if session is None or not booking.status.active:
            continue
        if screen.ctx.local(session.starts_at).date() == today and session.ends_at >= screen.ctx.now():
            candidates.append((session.starts_at, booking))
    if not candidates:
        screen.show_message(_("You have no booking today. Touch My bookings to see your bookings."))
        return
    candidates.sort(key=lambda item: item[0])
    check_in_booking(screen, candidates[0][1])


class CheckInScreen(Screen):
    name = "check_in"

    def title(self) -> str:
        return _("Check in")

    def announcement(self) -> str:
        return _("Use the number on your slip, or your ID card.")

    def choices(self) -> list[Choice]:
        return [
            Choice(
                "by_code",
                _("With my booking number"),
                lambda: self.go("check_in_code"),
                detail=_("The number on the slip"),
                phrases=("预约号",),
            ),
            Choice("by_id", _("With my ID card"), self._by_id, phrases=("身份证",)),
        ]

    def _by_id(self) -> None:
        self.visit.purpose = "check_in"
        self.go("identify")


class CheckInCodeScreen(KeypadEntry):
    name = "check_in_code"

    def title(self) -> str:
        return _("Your booking number")

    def announcement(self) -> str:
        return _("Type the booking number from your slip, then touch Check in.")

    def side_panel(self) -> QWidget:
        return self.kept_keypad(on_key=self.key, with_x=False)

    def build_body(self, box: QVBoxLayout) -> None:
        entry = self.visit.code_entry
        shown = (format_code(entry) if len(entry) >= 7 else entry) or _("(nothing entered)")
        box.addWidget(widgets.label(shown, kind="code", name="code_display"))

    def choices(self) -> list[Choice]:
        return [Choice("check_in_now", _("Check in"), self.submit, phrases=("签到", "确定"))]

    def entry(self) -> str:
        return self.visit.code_entry

    def key(self, key: str) -> None:
        before = self.visit.code_entry
        self.visit.code_entry = typed(before, key, CODE_MAX)
        self.message = ""
        self.win.refresh()
        self.typed_feedback(before, self.visit.code_entry)

    def submit(self) -> None:
        code = normalise_code(self.visit.code_entry)
        booking = self.ctx.store.booking_by_code(code) if is_valid_code(code) else None
        if booking is None:
            self.show_message(
                _("We could not find this number. Please check the number on your slip, or use your ID card.")
            )
            return
        check_in_booking(self, booking)


class CheckedInScreen(Screen):
    name = "checked_in"
    show_back = False

    def title(self) -> str:
        return _("You are checked in")

    def _video(self) -> str:
        booking = self.visit.booking
        session = self.ctx.store.session(booking.session_id) if booking else None
        if session is None or not session.video_url or not bool(self.ctx.settings.get(S.VIDEO_HOSTED)):
            return ""
        return session.video_url

    def on_enter(self) -> None:
        url = self._video()
        if url:  # this kiosk hosts the video call: open it for the resident
            QDesktopServices.openUrl(QUrl(url))

    def _number(self) -> int | None:
        booking = self.visit.booking
        return self.ctx.store.queue_number(booking.id) if booking is not None else None

    def announcement(self) -> str:
        """The number first (it is what the waiting room calls), then where to go."""
        booking = self.visit.booking
        session = self.ctx.store.session(booking.session_id) if booking else None
        if booking is None or session is None or booking.status is not BookingStatus.CHECKED_IN:
            return ""
        w = session_words(self, session)
        number = self._number()
        first = _("You are number {number}.").format(number=number) if number is not None else ""
        if self._video():
            then = _("The video session is opening on this screen. {provider} will see you {when}.")
        else:
            then = _("Please go to {where} and wait there. {provider} will see you by video {when}.")
        return sentences(first, then.format(**w))

    def closing(self) -> str:
        number = self._number()
        return _("Once more: you are number {number}.").format(number=number) if number is not None else ""

    def build_body(self, box: QVBoxLayout) -> None:
        booking = self.visit.booking
        session = self.ctx.store.session(booking.session_id) if booking else None
        number = self._number()
        if number is not None:  # the number the waiting room calls, very large
            shown = widgets.label(
                _("You are No. {number}").format(number=number), kind="code", name="queue_number"
            )
            shown.setAlignment(Qt.AlignmentFlag.AlignCenter)
            box.addWidget(shown)
        if session is not None and session.room and not self._video():
            room = widgets.label(session.room, kind="code", name="checked_in_room")  # where to go, very large
            room.setAlignment(Qt.AlignmentFlag.AlignCenter)
            box.addWidget(room)
        box.addWidget(widgets.label(self.announcement(), kind="ok", name="checked_in_where"))

    def choices(self) -> list[Choice]:
        return [
            Choice("finish", _("Finish"), self.win.end_visit, phrases=("完成", "好了")),
            Choice(
                "slip",
                _("Print my number"),
                lambda: self.go("slip"),
                kind="secondary",
                phrases=("打印", "号码"),
            ),
        ]
