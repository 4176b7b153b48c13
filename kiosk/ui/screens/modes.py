"""Other ways to use the kiosk: bigger text, speech and keypad, captions, bigger buttons."""

from __future__ import annotations

from functools import partial

from cunzhan.i18n import N_
from cunzhan.i18n import gettext as _
from kiosk.accessibility.profiles import PROFILES, Profile
from kiosk.ui.screen import Choice, Screen

MODE_LABELS = (
    ("elder", N_("Elder mode"), N_("Bigger words, slower speech")),
    ("low_vision", N_("I cannot see well"), N_("Very big words, everything read aloud")),
    ("blind", N_("I cannot see"), N_("Everything spoken, use the number keys")),
    ("hearing", N_("I cannot hear well"), N_("Everything written on the screen")),
    ("motor", N_("My hands shake"), N_("Bigger buttons, more time")),
    ("standard", N_("Standard mode"), N_("Normal size")),
)


class ModesScreen(Screen):
    name = "modes"

    def title(self) -> str:
        return _("Ways to use this kiosk")

    def announcement(self) -> str:
        return _("Choose the way that is easiest for you.")

    def choices(self) -> list[Choice]:
        result = [
            Choice(key, _(text), partial(self._use, PROFILES[key]), detail=_(detail))
            for key, text, detail in MODE_LABELS
        ]
        resident = self.visit.resident
        if (
            resident is not None and resident.remembered_profile
        ):  # first, so it is on the first page in every mode
            result.insert(
                0,
                Choice(
                    "forget_mode",
                    _("Stop remembering my mode"),
                    self.forget,
                    detail=_("The kiosk will start in its usual mode next time"),
                    phrases=("不再记住我的模式", "不再记住"),
                ),
            )
        return result

    def forget(self) -> None:
        """「不再记住我的模式」: the identified resident's remembered mode is cleared; this visit's mode stays."""
        from kiosk.ui.screens.remember import remember_profile

        remember_profile(
            self,
            None,
            then=lambda: self.show_message(_("Done. The kiosk will not remember your mode any more."), "ok"),
        )

    def _use(self, profile: Profile) -> None:
        self.win.set_profile(profile, redraw=False)
        self.win.back()
