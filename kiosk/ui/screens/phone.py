"""Book, after identifying: 「留个手机号，好给您发短信提醒吗？」 — optional, skippable, asked of a resident who keeps no
agreement to reminders yet (a returning resident who gave one is not asked again; 「更改手机号」 on the confirm screen
brings them here to change or stop it).

`phone`: whose number it is (本人的号码 / 家人的号码) or 不需要. `phone_number`: the 11 digits on the keypad, masked on
screen like the ID number (shown in full only for 10 seconds at the resident's touch), checked as staff entry is
(`cunzhan.identity.check_phone`), and never said on the loudspeaker: typed digits go only to private audio
(`KeypadEntry.typed_feedback`). The answer stays in the visit until the booking is written (`with_reminders`): the
number and the agreement (`kiosk.booking.REMINDER_NOTICE`, whose number, when) are kept with the resident, sealed,
and sent with the booking; the township texts only such numbers (and those entered by staff).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QVBoxLayout, QWidget

from cunzhan.i18n import gettext as _
from cunzhan.i18n import sentences
from cunzhan.identity import check_phone, mask_phone
from cunzhan.models import Resident
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, MaskedKeypadEntry, Screen, typed

if TYPE_CHECKING:
    from kiosk.ui.context import Visit
    from kiosk.ui.window import KioskWindow

PHONE_LENGTH = 11
OWNERS = ("self", "family")
NO_PHONE = "none"  # the visit's answer 不需要


def should_ask(visit: Visit) -> bool:
    """Whether the booking journey asks for a phone: not yet answered in this visit, and the resident keeps no
    agreement to reminders (one who gave a number is not asked again)."""
    resident = visit.resident
    return (
        visit.purpose == "book"
        and visit.reschedule_of is None
        and not visit.phone_owner
        and (resident is None or resident.reminder_owner is None)
    )


def with_reminders(visit: Visit, resident: Resident, at: dt.datetime) -> Resident:
    """The resident as the booking keeps them, after this visit's answer: a number given with its agreement; 不需要
    stops reminders agreed before (a number staff entered stays: the township texts those without asking)."""
    if visit.phone_owner in OWNERS and visit.phone_entry:
        return replace(resident, phone=visit.phone_entry, reminder_owner=visit.phone_owner, reminder_at=at)
    if visit.phone_owner == NO_PHONE and resident.reminder_owner is not None:
        return replace(resident, phone=None, reminder_owner=None, reminder_at=None)
    return resident


def masked_phone_entry(text: str) -> str:
    """What the screen shows while typing: the first three and (once typed) the last four, the middle hidden."""
    if len(text) >= 8:
        return mask_phone(text)
    return text[:3] + "*" * max(0, len(text) - 3)


def question() -> str:
    """The question, as the resident hears and reads it."""
    return _("May we have a mobile number to text you reminders? It is not needed to book.")


class PhoneScreen(Screen):
    name = "phone"
    columns = 1

    def title(self) -> str:
        return _("Text reminders")

    def announcement(self) -> str:
        return sentences(question(), _("Choose whose number it is, or No thanks."))

    def build_body(self, box: QVBoxLayout) -> None:
        box.addWidget(widgets.label(question(), name="phone_question"))
        resident = self.visit.resident
        if (
            resident is not None and resident.phone
        ):  # shown, not spoken: the masked number stays on the screen
            box.addWidget(
                widgets.label(
                    _("The number we have now: {phone}").format(phone=mask_phone(resident.phone)),
                    name="phone_known",
                )
            )

    def choices(self) -> list[Choice]:
        return [
            Choice(
                "phone_self",
                _("My own number"),
                partial(self._choose, "self"),
                phrases=("本人", "我的", "自己"),
            ),
            Choice(
                "phone_family",
                _("A family member's number"),
                partial(self._choose, "family"),
                detail=_("For example your son's or daughter's"),
                phrases=("家人", "儿子", "女儿"),
            ),
            Choice(
                "phone_none",
                _("No thanks"),
                self._no_thanks,
                kind="secondary",
                phrases=("不需要", "不用", "没有手机"),
            ),
        ]

    def _choose(self, owner: str) -> None:
        visit = self.visit
        if visit.phone_owner != owner or not visit.phone_entry:
            resident = visit.resident
            # The number kept before (typed by staff, or given earlier) to keep or correct; a new one otherwise.
            visit.phone_entry = (resident.phone or "") if resident is not None else ""
        visit.phone_owner = owner
        self.go("phone_number")

    def _no_thanks(self) -> None:
        self.visit.phone_owner = NO_PHONE
        self.visit.phone_entry = ""
        self.go("confirm")


class PhoneNumberScreen(MaskedKeypadEntry):
    name = "phone_number"

    def __init__(self, window: KioskWindow) -> None:
        super().__init__(window)

    def title(self) -> str:
        if self.visit.phone_owner == "family":
            return _("Your family member's mobile number")
        return _("Your mobile number")

    def announcement(self) -> str:
        return _("Type the mobile number with the number keys, then touch Next. It is not read out aloud.")

    def side_panel(self) -> QWidget:
        return self.kept_keypad(on_key=self.key, with_x=False)

    def build_body(self, box: QVBoxLayout) -> None:
        entry = self.visit.phone_entry
        if not entry:
            shown = _("(nothing entered)")
        else:
            shown = entry if self.revealed else masked_phone_entry(entry)
        display = widgets.label(shown, kind="code" if entry else "page", name="phone_display")
        display.setAccessibleName(_("Mobile number, {n} of 11 digits entered").format(n=len(entry)))
        box.addWidget(display)
        if not self.message:
            box.addWidget(
                widgets.label(_("{n} of 11 digits entered").format(n=len(entry)), name="phone_count")
            )

    def choices(self) -> list[Choice]:
        result = [Choice("phone_ok", _("Next"), self.submit, phrases=("好了", "确定", "下一步"))]
        if self.visit.phone_entry:
            result.append(self.reveal_choice("phone"))
        return (
            result  # 不需要 is on the question, one 返回 away: a third choice does not fit beside the keypad
        )

    def entry(self) -> str:
        return self.visit.phone_entry

    def key(self, key: str) -> None:
        before = self.visit.phone_entry
        self.visit.phone_entry = typed(before, key, PHONE_LENGTH)
        self.message = ""
        self.win.refresh()
        self.typed_feedback(before, self.visit.phone_entry)

    def submit(self) -> None:
        """Check the number as staff entry does; a good one is kept in the visit until the booking is written."""
        check = check_phone(self.visit.phone_entry)
        if not check.ok or check.number is None:
            self.show_message(check.message())
            return
        self.visit.phone_entry = check.number
        self.hide_number()
        self.win.say_before_next(
            _("You typed {number}.").format(number=" ".join(check.number)),
            _("Thank you. The number is shown on the screen."),
        )
        self.go("confirm")
