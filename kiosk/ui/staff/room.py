"""Staff mode's waiting room for one of today's sessions (#16): who has checked in (masked names, numbers), the calls
叫下一位 / 重叫 / 过号, the waiting-room display, and the session's remote room link — its `video_url`, the video
platform's room set in the console schedule — as a QR code for a phone or tablet (打开 when this computer has a
browser).

A call is written with its `call`/`announce` op (`kiosk.booking.Bookings.call`: the township's roster shows it after
the next push, offline ones later) and shown on the display at once, before any sync.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QPixmap
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from cunzhan.i18n import gettext as _
from cunzhan.models import Session
from cunzhan.protocol import Call, CallAction
from kiosk.staff.desk import mask_name
from kiosk.ui import widgets
from kiosk.ui.display import open_display, waiting_room
from kiosk.ui.screen import Choice
from kiosk.ui.screens.checkin import queue_words
from kiosk.ui.screens.slip import qr_image
from kiosk.ui.staff.base import StaffScreen
from kiosk.ui.words import time_words

SHOWN_WAITING = 12  # numbers listed on the screen (the rest counted)


def has_browser() -> bool:
    """Whether this computer can open a web link (the Linux kiosk image may have no browser: then the QR code is
    for a phone or tablet)."""
    import webbrowser

    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def call_state_words(called: str | None) -> str:
    if called is None:
        return _("not called yet")
    if called == "skip":
        return _("missed turn")
    return _("called")


class StaffRoomScreen(StaffScreen):
    name = "staff_room"
    columns = 2
    per_page = 4

    def __init__(self, window: object) -> None:
        super().__init__(window)  # type: ignore[arg-type]
        self.session: Session | None = None
        self.lines: list[tuple[int, str, str | None]] = []  # number, masked name, last call
        waiting_room(self.win).called.connect(self._redraw_if_shown)

    def title(self) -> str:
        return _("Waiting room")

    def announcement(self) -> str:
        return _("Call the next number, call the last number again, or mark it as missed.")

    def load(self) -> None:
        session_id = self.state.session_id
        store = self.ctx.store
        self.session = store.session(session_id) if session_id else None
        self.lines = []
        if self.session is None:
            return
        for booking, number, called in store.waiting_room(self.session.id):
            resident = store.resident(booking.resident_id)
            self.lines.append((number, mask_name(resident.name) if resident else "", called))

    def _redraw_if_shown(self) -> None:
        if self.win.current is self and self.isVisible():
            self.load()
            self.win.refresh()

    # --- body -------------------------------------------------------------------------------------------------------

    def build_body(self, box: QVBoxLayout) -> None:
        session = self.session
        if session is None:
            box.addWidget(widgets.label(_("Choose a session first."), kind="notice", name="no_session"))
            return
        service = self.ctx.store.service(session.service_id)
        waiting = sum(1 for _n, _name, called in self.lines if called is None)
        box.addWidget(
            widgets.label(
                _("{time} {service}: {arrived} checked in, {waiting} waiting.").format(
                    time=time_words(self.ctx.local(session.starts_at)),
                    service=service.name if service else "",
                    arrived=len(self.lines),
                    waiting=waiting,
                ),
                name="room_summary",
            )
        )
        last = self.ctx.store.last_called(session.id)
        now = (
            _("Now calling: {number}").format(number=queue_words(last[1]))
            if last is not None and last[2] != "skip"
            else _("Nobody is being called.")
        )
        box.addWidget(widgets.label(now, kind="ok", name="room_now"))
        if self.lines:
            shown = [
                _("{number} {name} ({state})").format(
                    number=queue_words(number), name=name, state=call_state_words(called)
                )
                for number, name, called in self.lines[:SHOWN_WAITING]
            ]
            if len(self.lines) > SHOWN_WAITING:
                shown.append(_("and {n} more").format(n=len(self.lines) - SHOWN_WAITING))
            box.addWidget(widgets.label(_("; ").join(shown), name="room_list"))
        else:
            box.addWidget(widgets.label(_("Nobody has checked in yet."), kind="notice", name="room_empty"))

    def side_panel(self) -> QWidget | None:
        """The remote room: its link as a QR code (for a phone or tablet), and 打开 when a browser exists."""
        url = self.session.video_url if self.session is not None else ""
        if not url:
            return None
        panel = QWidget()
        column = QVBoxLayout(panel)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(self.theme.gap_px)
        column.addWidget(widgets.label(_("Remote room: scan to join"), name="room_link_title"))
        side = max(200, min(self.theme.px(60), self.content_width() // 4))
        picture = QLabel()
        picture.setObjectName("room_qr")
        picture.setAccessibleName(_("QR code of the remote room link"))
        picture.setPixmap(
            QPixmap.fromImage(qr_image(url, border=4)).scaled(
                side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
            )
        )
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column.addWidget(picture)
        column.addWidget(widgets.label(url, name="room_url"))
        if has_browser():
            column.addWidget(
                widgets.button(
                    _("Open the link"),
                    name="room_open",
                    kind="secondary",
                    on_click=lambda: QDesktopServices.openUrl(QUrl(url)),
                    description=_("Open the remote room in the browser"),
                )
            )
        column.addStretch(1)
        return panel

    # --- calls ------------------------------------------------------------------------------------------------------

    def choices(self) -> list[Choice]:
        if self.session is None:
            return []
        return [
            Choice("call_next", _("Call the next number"), lambda: self.call("call"), phrases=("叫下一位",)),
            Choice(
                "recall", _("Call again"), lambda: self.call("recall"), kind="secondary", phrases=("重叫",)
            ),
            Choice(
                "skip", _("Mark as missed"), lambda: self.call("skip"), kind="secondary", phrases=("过号",)
            ),
            Choice(
                "display",
                _("Waiting-room display"),
                self.display,
                kind="secondary",
                detail=_("On the second screen, or on this one"),
            ),
        ]

    def call(self, action: CallAction) -> None:
        if self.session is None:
            return
        session_id, bookings, now = self.session.id, self.ctx.bookings, self.ctx.now()
        self.ctx.ops.write(
            lambda: bookings.call(session_id, action, now=now),
            on_done=self._called,
            on_error=self.fail,
        )

    def _called(self, call: Call | None) -> None:
        if call is None:
            self.show_message(_("There is nobody to call."), "notice", speak=False)
            return
        waiting_room(self.win).show(call)  # on the display at once; the op goes to the township
        worker = self.state.worker or getattr(self.win, "sync_worker", None)
        if worker is not None and getattr(worker, "running", False):
            worker.sync_now()
        self.load()
        self.show_message(
            _("Called {number}.").format(number=queue_words(call.queue_number))
            if call.action != "skip"
            else _("{number} marked as missed.").format(number=queue_words(call.queue_number)),
            "ok",
            speak=False,
        )

    def display(self) -> None:
        """Switch the waiting-room display on (on the second screen when the machine has one)."""
        open_display(self.win)
