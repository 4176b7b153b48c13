"""Sync state in plain words (last success, changes waiting, last error, clock skew) and "sync now"."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QVBoxLayout

from cunzhan.i18n import gettext as _
from kiosk.sync.status import SKEW_WARNING_S, SyncStatus, read_status
from kiosk.ui import widgets
from kiosk.ui.screen import Choice
from kiosk.ui.staff.base import StaffScreen
from kiosk.ui.words import past_words


def sync_lines(status: SyncStatus, screen: StaffScreen) -> list[tuple[str, str, str]]:
    """(object name, kind, text) for each line of the sync state."""
    ctx = screen.ctx
    lines: list[tuple[str, str, str]] = []
    if not status.enrolled:
        lines.append(
            (
                "sync_enrolled",
                "error",
                _("This kiosk is not enrolled with a township yet. Use Enrol kiosk on the staff home."),
            )
        )
    else:
        lines.append(
            (
                "sync_link",
                "notice",
                _("Connection: online.")
                if status.online
                else _("Connection: offline. The kiosk keeps working and sends changes later."),
            )
        )
    if status.last_success_at is not None:
        when = past_words(ctx.local(status.last_success_at), ctx.today())
        lines.append(("sync_last", "page", _("Last successful sync: {when}.").format(when=when)))
    else:
        lines.append(("sync_last", "page", _("Last successful sync: never.")))
    lines.append(("sync_pending", "page", _("Changes waiting to be sent: {n}.").format(n=status.pending_ops)))
    if status.last_error:
        lines.append(("sync_error", "error", _("Last problem: {error}").format(error=status.last_error)))
    else:
        lines.append(("sync_error", "page", _("Last problem: none.")))
    if status.skew_warning:
        minutes = round(abs(status.clock_skew_s) / 60)
        ahead = _("behind") if status.clock_skew_s > 0 else _("ahead of")
        lines.append(
            (
                "sync_skew",
                "error",
                _(
                    "Warning: the kiosk clock is about {n} minutes {ahead} the "
                    "township's. Set the computer's clock."
                ).format(n=minutes, ahead=ahead),
            )
        )
    else:
        lines.append(
            (
                "sync_skew",
                "page",
                _("Clock: within {n} minutes of the township's.").format(n=SKEW_WARNING_S // 60),
            )
        )
    return lines


class StaffSyncScreen(StaffScreen):
    name = "staff_sync"
    columns = 1

    def __init__(self, window: object) -> None:
        super().__init__(window)  # type: ignore[arg-type]
        self.status: SyncStatus | None = None

    def title(self) -> str:
        return _("Sync with the township")

    def announcement(self) -> str:
        return _("The sync state is shown below. Touch Sync now to send and fetch changes.")

    def load(self) -> None:
        self.status = read_status(self.state.real)

    def build_body(self, box: QVBoxLayout) -> None:
        if self.status is None:
            return
        for name, kind, text in sync_lines(self.status, self):
            box.addWidget(widgets.label(text, kind=kind, name=name))

    def choices(self) -> list[Choice]:
        return [Choice("sync_now", _("Sync now"), self.sync_now, kind="primary")]

    def sync_now(self) -> None:
        """Wake the sync worker, or (when none runs, e.g. just after enrolment) run one sync in the background."""
        state = self.state
        state.desk.record("sync_now", kiosk=True)
        worker = state.worker or getattr(self.win, "sync_worker", None)
        if worker is not None and getattr(worker, "running", False):
            worker.sync_now()
            self.show_message(
                _("Sync started. The state below updates when it finishes."), "notice", speak=False
            )
            return
        path = state.real.path
        self.show_message(_("Syncing…"), "notice", speak=False)
        self.ctx.ops.run(lambda: sync_once(path), on_done=self._synced, on_error=self.fail)

    def _synced(self, report: Any) -> None:
        self.load()
        if report is None:
            self.show_message(
                _("This kiosk is not enrolled, or its credentials are missing. Enrol it first."), speak=False
            )
            return
        error = getattr(report, "error", None)
        if error is not None:
            message = getattr(error, "message", None)
            self.show_message(message() if callable(message) else str(error), speak=False)
            return
        self.show_message(_("Sync finished."), "ok", speak=False)


def sync_once(store_path: Any) -> Any:
    """One sync attempt on its own store connection (the sync engine is not shared between threads)."""
    from kiosk.store import Store
    from kiosk.sync.engine import SyncEngine

    store = Store.open(store_path)
    try:
        engine = SyncEngine.from_store(store)
        if engine is None:
            return None
        try:
            return engine.sync_once()
        finally:
            engine.client.close()
    finally:
        store.close()
