"""Identify: the resident's ID number on a big keypad (with X), checked with kind, specific messages.

The number is masked on screen (`3301 **** **** **123X`) and shown in full only while the resident touches 「显示号码」,
for 10 seconds. It is spoken only through private audio (`say_private`). A resident who already identified in this
visit can continue in one touch. What happens next depends on `visit.purpose` (book, bookings, check_in, for_you).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QVBoxLayout, QWidget

from cunzhan.i18n import gettext as _
from cunzhan.i18n import sentences
from cunzhan.identity import check_id_number, mask_id
from cunzhan.models import Resident
from kiosk import settings as S
from kiosk.accessibility.profiles import Profile
from kiosk.store import new_id
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, MaskedKeypadEntry, Screen, typed

if TYPE_CHECKING:
    from kiosk.ui.context import Visit
    from kiosk.ui.window import KioskWindow

ID_LENGTH = 18


def grouped(text: str) -> str:
    """ID digits in the groups people read them in: 6 (region), 8 (birth date), 4."""
    parts = [text[:6], text[6:14], text[14:]]
    return " ".join(p for p in parts if p)


def masked_entry(text: str) -> str:
    """What the screen shows while typing: region and the last four kept, the middle hidden."""
    if len(text) >= 8:
        return mask_id(text)
    return text[:4] + "*" * max(0, len(text) - 4)


def next_after_identify(screen: Screen) -> None:
    """Continue the resident's journey once they are known (after the invitation to rate their last session, when
    there is one to rate: screens/rate_invite)."""
    from kiosk.ui.screens.rate_invite import invite_to_rate

    if invite_to_rate(screen):
        return
    purpose = screen.visit.purpose
    if purpose == "bookings":
        screen.go("booking_list")
    elif purpose == "check_in":
        from kiosk.ui.screens.checkin import check_in_resident

        check_in_resident(screen)
    elif purpose == "for_you":
        screen.go("for_you")
    else:
        from kiosk.ui.screens.phone import should_ask

        screen.go("phone" if should_ask(screen.visit) else "confirm")


def apply_remembered_profile(screen: Screen) -> Profile | None:
    """Switch the window to the identified resident's remembered mode (sizes, speech rate, idle time follow);
    returns it when it changed anything. The end of the visit brings the kiosk default back."""
    from kiosk.ui.screens.remember import remembered

    wanted = remembered(screen.visit.resident)
    ctx = screen.ctx
    if wanted is None or wanted == ctx.profile or ctx.profile != ctx.default_profile:
        return None  # a mode chosen in this visit wins over the remembered one
    screen.win.set_profile(wanted, redraw=False)  # the next screen is drawn (and announced) in the new mode
    return wanted


class IdentifyScreen(MaskedKeypadEntry):
    name = "identify"

    def __init__(self, window: KioskWindow) -> None:
        super().__init__(window)
        # The visit in which 「下次自动用…吗？」 was asked (a new visit asks anew); weak: an ended visit is not kept.
        self._asked_in: weakref.ref[Visit] | None = None

    def title(self) -> str:
        return _("Your ID card number")

    def announcement(self) -> str:
        if self.visit.for_dependent and self.visit.purpose == "book":
            text = _(
                "Please type your own ID number (the person making the booking). "
                "Use the number keys; the last character may be X."
            )
        else:
            text = _("Please type your ID card number with the number keys. The last character may be X.")
        if (
            self.profile.keypad_driven
        ):  # a 12-key keypad has no X: the screen's X key, reached with the arrows
            text = sentences(text, _("For X, move to the X key with the arrow keys and press Enter."))
        return text

    def side_panel(self) -> QWidget:
        return self.kept_keypad(on_key=self.key, with_x=True)

    def build_body(self, box: QVBoxLayout) -> None:
        entry = self.visit.id_entry
        if not entry:
            shown = _("(nothing entered)")
        elif self.revealed:
            shown = grouped(entry)
        else:
            shown = grouped(masked_entry(entry))
        # The digits in the big code type; the empty placeholder in body type (it broke mid-word in large type).
        display = widgets.label(shown, kind="code" if entry else "page", name="id_display")
        display.setAccessibleName(_("ID number, {n} of 18 characters entered").format(n=len(entry)))
        box.addWidget(display)
        if (
            not self.message
        ):  # a problem's message says what is wrong with the count (both do not fit big type)
            box.addWidget(
                widgets.label(_("{n} of 18 characters entered").format(n=len(entry)), name="id_count")
            )

    def choices(self) -> list[Choice]:
        result = [Choice("id_ok", _("Next"), self.submit, phrases=("好了", "确定", "下一步"))]
        if self.visit.id_entry:
            result.append(self.reveal_choice("id"))
        known = self.visit.resident
        if (
            known is not None and not self.visit.id_entry
        ):  # instead of typing; with the number typed, 下一步 does it
            result.append(
                Choice(
                    "id_known",
                    _("It is me, as before"),
                    self._continue_known,
                    detail=_("ID ending {last}").format(last=known.id_number[-4:]),
                )
            )
        return result

    def entry(self) -> str:
        return self.visit.id_entry

    def key(self, key: str) -> None:
        before = self.visit.id_entry
        self.visit.id_entry = typed(before, key, ID_LENGTH, allowed="0123456789Xx")
        self.message = ""
        self.win.refresh()
        self.typed_feedback(before, self.visit.id_entry)

    def on_digit(self, key: str) -> bool:
        self.key(key)  # digits and the X of an ID number's check character
        return True

    def submit(self) -> None:
        """Check the number; a problem gets its own kind message, a good number identifies the resident."""
        check = check_id_number(self.visit.id_entry, today=self.ctx.today())
        if not check.ok or check.number is None:
            self.show_message(check.message())
            return
        number = check.number
        # Said at the start of the next screen's announcement, so that screen does not cut it off.
        self.win.say_before_next(
            _("You typed {number}.").format(number=" ".join(number)),
            _("Thank you. The number is shown on the screen."),
        )
        resident = self.ctx.store.find_resident(number)
        if resident is None:
            village = str(self.ctx.settings.get(S.VILLAGE)) or None
            resident = Resident(id=new_id(), name="", id_number=number, village=village)
        self.visit.resident = resident
        self.hide_number()
        if self._should_offer_remember(resident):
            self._asked_in = weakref.ref(
                self.visit
            )  # once per visit: 不用 is an answer, not a reason to ask again
            self.go("remember")
            return
        switched = apply_remembered_profile(self)
        next_after_identify(self)
        shown = self.win.current
        if switched is not None and shown is not None and not shown.message:
            shown.show_message(
                _("Welcome back. We switched to {mode} for you, as you asked last time.").format(
                    mode=switched.label()
                ),
                "ok",
            )

    def _should_offer_remember(self, resident: Resident) -> bool:
        """Ask 「下次自动用…吗？」 only of a resident in a mode of their own choosing who keeps none yet."""
        ctx = self.ctx
        return (
            resident.remembered_profile is None
            and ctx.profile != ctx.default_profile
            and (self._asked_in is None or self._asked_in() is not self.visit)
        )

    def _continue_known(self) -> None:
        next_after_identify(self)
