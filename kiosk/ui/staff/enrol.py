"""Enrol this kiosk with the township: type the township address and the enrolment code from the township console.

The exchange runs in the background through `kiosk.sync.enroll.enroll`; every failure (expired or reused code,
unreachable or wrong address, a certificate that does not verify, a locked or missing keyring) comes back as a plain
sentence with what to do next. After success, syncing starts at once.

On a kiosk with NO staff member this screen is open without a PIN (it is the way to get a first one): once the
township accepts the code, the window goes on to set up the first staff member (`StaffSetupScreen`). Enrolling
needs a valid single-use code from the township console, so walking up to the kiosk is not enough.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QVBoxLayout

from cunzhan.i18n import gettext as _
from kiosk import settings as s
from kiosk.staff.provisioning import ACTOR_ENROLMENT
from kiosk.store.sync_state import SyncKey
from kiosk.sync.audit import queue_audit
from kiosk.ui import widgets
from kiosk.ui.screen import Choice
from kiosk.ui.staff.base import StaffScreen


class StaffEnrolScreen(StaffScreen):
    name = "staff_enrol"
    columns = 1

    def title(self) -> str:
        return _("Enrol this kiosk")

    def announcement(self) -> str:
        return _(
            "Type the township address and the enrolment code shown in the township console, then touch "
            "Enrol."
        )

    def on_enter(self) -> None:
        # Without a PIN only while the kiosk has no staff member at all (the code itself is the authority then).
        state = self.state
        if state.member is None and state.accounts.has_staff():
            self.win.show_screen("staff_pin", remember=False)
            return
        self.load()

    def _record(self, action: str, detail: str) -> None:
        state = self.state
        if state.member is not None:
            state.desk.record(action, detail, kiosk=True)
        else:
            state.real.audit(ACTOR_ENROLMENT, action, detail)
            queue_audit(state.real)

    def load(self) -> None:
        state = self.state
        draft = state.enrol
        real = state.real
        view = s.Settings(real.stored_settings())
        if not draft.server:
            draft.server = real.state(SyncKey.TOWNSHIP_URL) or str(view.get(s.TOWNSHIP_URL) or "")
        if not draft.kiosk_name:
            draft.kiosk_name = str(view.get(s.KIOSK_NAME) or "")

    def build_body(self, box: QVBoxLayout) -> None:
        state = self.state
        draft = state.enrol
        number = state.real.state("kiosk_number")
        if state.member is None:
            box.addWidget(
                widgets.label(
                    _(
                        "After the township accepts the code you will set up the first staff "
                        "member of this kiosk."
                    ),
                    kind="notice",
                    name="first_staff_next",
                )
            )
        if state.real.state(SyncKey.DEVICE_ID):
            text = (
                _(
                    "This kiosk is already enrolled as kiosk {n}. Enrolling again with a new code replaces its "
                    "credentials."
                ).format(n=number)
                if number
                else _(
                    "This kiosk is already enrolled. Enrolling again with a new code replaces its credentials."
                )
            )
            box.addWidget(widgets.label(text, kind="notice", name="already_enrolled"))
        self.text_field(
            box,
            name="enrol_server",
            label=_("Township address"),
            value=draft.server,
            on_change=lambda t: setattr(draft, "server", t),
            placeholder="https://township.example:8700",
        )
        self.text_field(
            box,
            name="enrol_code",
            label=_("Enrolment code"),
            value=draft.code,
            on_change=lambda t: setattr(draft, "code", t),
        )
        self.text_field(
            box,
            name="enrol_name",
            label=_("Kiosk name (usually the village service centre)"),
            value=draft.kiosk_name,
            on_change=lambda t: setattr(draft, "kiosk_name", t),
        )

    def choices(self) -> list[Choice]:
        return [Choice("enrol", _("Enrol"), self.enrol, kind="primary")]

    def enrol(self) -> None:
        state = self.state
        draft = state.enrol
        if not draft.server.strip() or not draft.code.strip():
            self.show_message(_("Please type both the township address and the enrolment code."), speak=False)
            return
        real = state.real
        server, code, name = draft.server.strip(), draft.code.strip(), draft.kiosk_name.strip() or None

        def run() -> Any:
            from kiosk.sync.enroll import enroll

            return enroll(server, code, name, store=real)

        self.show_message(_("Connecting to the township…"), "notice", speak=False)
        self.ctx.ops.run(run, on_done=self._enrolled, on_error=self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.state.enrol.code = ""  # a code is single-use: the next try needs it typed again
        self._record("kiosk_enrol_failed", getattr(exc, "kind", type(exc).__name__))
        self.fail(exc)

    def _enrolled(self, result: Any) -> None:
        state = self.state
        state.enrol.code = ""
        self._record("kiosk_enrolled", f"kiosk {result.kiosk_number}")
        state.ensure_sync()
        text = _("Enrolled as kiosk {n}. The kiosk now syncs with the township.").format(
            n=result.kiosk_number
        )
        if result.reenrolled:
            text = _("Enrolled again as kiosk {n}. The old credentials are replaced.").format(
                n=result.kiosk_number
            )
        if state.member is None and not state.accounts.has_staff():
            state.first_staff_allowed = True  # this accepted code authorises one first set-up, in this window
            self.win.show_screen("staff_setup", remember=False)
            current = self.win.current
            if current is not None:
                current.show_message(text, "ok", speak=False)
            return
        self.show_message(text, "ok", speak=False)
