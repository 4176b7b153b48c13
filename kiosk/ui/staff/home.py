"""Staff home: who is signed in, the kiosk's state in one line each, and every staff task one touch away."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QVBoxLayout

from cunzhan.i18n import gettext as _
from kiosk.sync.status import read_status
from kiosk.ui import widgets
from kiosk.ui.screen import Choice
from kiosk.ui.staff.base import StaffScreen
from kiosk.ui.words import time_words


class StaffHomeScreen(StaffScreen):
    name = "staff_home"
    show_back = False
    columns = 3
    per_page = 12

    def title(self) -> str:
        return _("Staff mode")

    def announcement(self) -> str:
        return _("Choose a task. Touch Sign out when you are done.")

    def build_body(self, box: QVBoxLayout) -> None:
        state = self.state
        member = state.member
        if member is not None:
            box.addWidget(
                widgets.label(
                    _("Signed in: {name} ({staff_id})").format(name=member.name, staff_id=member.staff_id),
                    name="signed_in",
                )
            )
        status = read_status(state.real)
        if not status.enrolled:
            link = _("Not enrolled with a township yet.")
        elif status.online:
            link = _("Online. {n} changes waiting to be sent.").format(n=status.pending_ops)
        else:
            link = _("Offline. {n} changes waiting to be sent.").format(n=status.pending_ops)
        if status.skew_warning:
            link += " " + _("The kiosk clock is wrong by more than 5 minutes.")
        box.addWidget(
            widgets.label(link, kind="notice" if status.enrolled else "error", name="staff_sync_line")
        )
        calls, last = state.desk.help_calls_today() if member is not None else (0, None)
        if calls and last is not None:
            box.addWidget(
                widgets.label(
                    _("Residents asked for help {n} times today, last at {time}.").format(
                        n=calls, time=time_words(self.ctx.local(last))
                    ),
                    kind="notice",
                    name="help_calls",
                )
            )

    def choices(self) -> list[Choice]:
        state = self.state
        practice = state.in_practice
        return [
            Choice(
                "assist",
                _("Book for a resident"),
                lambda: self.go("staff_book"),
                detail=_("Assisted booking"),
            ),
            Choice(
                "today", _("Today's sessions"), lambda: self.go("staff_today"), detail=_("Check people in")
            ),
            Choice(
                "calllist",
                _("Call list"),
                lambda: self.go("staff_calllist"),
                detail=_("Today and tomorrow, who has no phone"),
            ),
            Choice(
                "lookup",
                _("Find a resident"),
                lambda: self.go("staff_lookup"),
                detail=_("By ID number or booking code"),
            ),
            Choice("sync", _("Sync"), lambda: self.go("staff_sync"), detail=_("State and sync now")),
            Choice("settings", _("Kiosk settings"), lambda: self.go("staff_settings")),
            Choice(
                "enrol", _("Enrol kiosk"), lambda: self.go("staff_enrol"), detail=_("Connect to the township")
            ),
            Choice(
                "practice",
                _("End practice mode") if practice else _("Start practice mode"),
                self.toggle_practice,
                detail=_("Nothing is kept") if not practice else "",
            ),
            Choice("add_staff", _("Add a staff member"), lambda: self.go("staff_setup")),
            Choice(
                "diagnostics",
                _("Export diagnostics"),
                self.export_diagnostics,
                detail=_("For the township technician"),
            ),
            Choice("leave", _("Leave the kiosk"), self.leave, detail=_("To the desktop")),
            Choice("sign_out", _("Sign out"), self.sign_out, kind="primary"),
        ]

    def toggle_practice(self) -> None:
        on = not self.state.in_practice
        self.state.set_practice(on)
        text = (
            _("Practice mode is on. Residents can try everything; nothing is kept or sent.")
            if on
            else _("Practice mode is off. Bookings are real again.")
        )
        self.show_message(text, "ok", speak=False)

    def export_diagnostics(self) -> None:
        real = self.state.real
        desk = self.state.desk

        def export() -> Path:
            from kiosk.diagnostics import export_diagnostics

            path = export_diagnostics(real)
            desk.record("diagnostics_exported", path.name, kiosk=True)
            return path

        self.show_message(_("Preparing the diagnostics file…"), "notice", speak=False)
        self.ctx.ops.run(export, on_done=self._exported, on_error=self.fail)

    def _exported(self, path: Path) -> None:
        self.show_message(
            _(
                "Saved {path}. Copy it to a USB stick for the township technician. It holds no "
                "personal details."
            ).format(path=path),
            "ok",
            speak=False,
        )

    def leave(self) -> None:
        """Leave full screen to the desktop (the kiosk closes; it starts again with the computer)."""
        self.state.desk.record("left_kiosk", kiosk=True)
        self.state.sign_out()
        self.win.unlock_and_close()

    def sign_out(self) -> None:
        self.state.sign_out()
        self.win.end_visit()
