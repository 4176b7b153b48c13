"""The personal-data notice, before a resident types their ID number (PIPL: an ID number and a health appointment are
sensitive personal information): one plain sentence, shown and read out, saying what is kept, why, for how long and
who sees it. 「同意」 records the moment in the visit (sent with the booking, `kiosk.booking.CONSENT_NOTICE`) and goes
on to the ID number; 「返回」 goes back and nothing is typed or kept. Asked once per visit: any screen that goes to
`identify` comes here first while the visit has no consent (`Screen.go`).
"""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout

from cunzhan.i18n import gettext as _
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, Screen

RETENTION_MONTHS = 24  # the township's default retention period (township/retention.py)


def notice_text() -> str:
    """The notice, in one sentence."""
    return _(
        "To make and check your bookings we keep your ID number, name and phone number; only the township's "
        "service staff see them, and the township deletes them {months} months after your last booking."
    ).format(months=RETENTION_MONTHS)


class ConsentScreen(Screen):
    name = "consent"
    columns = 2

    def title(self) -> str:
        return _("Before you type your ID number")

    def announcement(self) -> str:
        return notice_text() + " " + _("Do you agree?")

    def build_body(self, box: QVBoxLayout) -> None:
        box.addWidget(widgets.label(notice_text(), name="consent_notice"))

    def choices(self) -> list[Choice]:
        return [
            Choice("consent_agree", _("I agree"), self.agree, phrases=("同意", "好", "可以")),
            Choice(
                "consent_back",
                _("Go back"),
                self.decline,
                kind="secondary",
                phrases=("返回", "不同意", "不要"),
            ),
        ]

    def on_confirm(self) -> bool:
        self.agree()
        return True

    def agree(self) -> None:
        """同意: remember when, then the ID number (返回 there goes back past this notice, already answered)."""
        self.visit.consent_at = self.ctx.now()
        self.win.show_screen("identify", remember=False)

    def decline(self) -> None:
        """返回: back where the resident came from; nothing typed, nothing kept."""
        self.win.back()
