"""Remember my mode: one plain question after identifying, for a resident who switched to another mode this visit.

「下次自动用长辈模式吗？」 是 / 不用. 是 stores the mode with the resident (`Resident.remembered_profile`); the next
time they type their ID number the kiosk switches to it at once (see `identify.apply_remembered_profile`). The
question is asked at most once per visit, and never in the kiosk's default mode. 「不再记住我的模式」 on the modes
screen stops it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QVBoxLayout

from cunzhan.i18n import gettext as _
from cunzhan.models import Resident
from kiosk.accessibility.profiles import Profile
from kiosk.accessibility.profiles import profile as profile_by_name
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, Screen

if TYPE_CHECKING:
    from kiosk.ui.window import KioskWindow


def remember_profile(
    screen: Screen, name: str | None, *, then: Callable[[], None], failed: Callable[[], None] | None = None
) -> None:
    """Store (or, with None, forget) the identified resident's remembered mode through `ctx.ops`; once it is kept,
    the visit holds the stored resident and `then()` runs (on the main thread). A failed write is said on `screen`
    (everything stays as it was: the resident can try again), then `failed()` runs, as it does when the visit ended
    before the write did."""
    resident = screen.visit.resident
    if resident is None:
        then()
        return
    visit, store, updated = screen.visit, screen.ctx.store, replace(resident, remembered_profile=name)

    def saved(stored: Resident) -> None:
        if screen.visit is not visit:  # the visit ended meanwhile (idle timeout): nothing of it comes back
            if failed is not None:
                failed()
            return
        visit.resident = stored
        then()

    def refused(exc: BaseException) -> None:
        from kiosk.ui.screens.confirm import SAVE_FAILED

        screen.show_message(_(SAVE_FAILED))
        if failed is not None:
            failed()

    screen.ctx.ops.write(lambda: store.save_resident(updated), on_done=saved, on_error=refused)


def remembered(resident: Resident | None) -> Profile | None:
    """The resident's remembered mode, or None (none kept, or a name this kiosk no longer knows)."""
    if resident is None or not resident.remembered_profile:
        return None
    try:
        return profile_by_name(resident.remembered_profile)
    except KeyError:
        return None


class RememberScreen(Screen):
    name = "remember"
    columns = 2

    def __init__(self, window: KioskWindow) -> None:
        super().__init__(window)
        self.busy = False  # the answer is being written: a second touch of 是 writes nothing more

    def title(self) -> str:
        return _("Use {mode} automatically next time?").format(mode=self.profile.label())

    def announcement(self) -> str:
        return _(
            "If you say yes, the kiosk will switch to this mode by itself after you type your ID number "
            "next time."
        )

    def build_body(self, box: QVBoxLayout) -> None:
        # the reason is written, not only spoken: a resident reading the question should know what 是 does
        box.addWidget(widgets.label(self.announcement(), name="remember_why"))

    def choices(self) -> list[Choice]:
        return [
            Choice("remember_yes", _("Yes"), self.agree, phrases=("是", "好", "要")),
            Choice("remember_no", _("No, thank you"), self.decline, phrases=("不用", "不要", "否")),
        ]

    def on_confirm(self) -> bool:
        self.agree()
        return True

    def agree(self) -> None:
        """是: keep this visit's mode with the resident, then carry on with what they came for."""
        if self.busy:
            return  # one touch is one write
        self.busy = True
        mode = self.profile.label()
        remember_profile(
            self, self.profile.name, then=lambda: self._remembered(mode), failed=self._not_remembered
        )

    def _not_remembered(self) -> None:
        self.busy = False

    def _remembered(self, mode: str) -> None:
        from kiosk.ui.screens.identify import next_after_identify

        self.busy = False
        next_after_identify(self)
        shown = self.win.current
        if (
            shown is not None and shown is not self
        ):  # not over a message the next step left here (no booking today)
            shown.show_message(
                _("Done. Next time, {mode} will start after you type your ID number.").format(mode=mode), "ok"
            )

    def decline(self) -> None:
        """不用: nothing is stored; carry on."""
        from kiosk.ui.screens.identify import next_after_identify

        next_after_identify(self)
