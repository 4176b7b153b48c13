"""Staff sign-in with the PIN on the big keypad, and setting up a staff member.

A kiosk with no staff shows no set-up form to whoever walks up: the PIN screen says plainly how a first staff member
is made (enrol with a township code, or the technician's console command). The set-up screen is open only to a
signed-in staff member, or once, right after this window enrolled the kiosk with a code the township accepted.
"""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from cunzhan.i18n import gettext as _
from kiosk.staff.accounts import NO_STAFF_TEXT, PIN_LENGTH, PinResult, StaffError, StaffMember, check_new_pin
from kiosk.staff.provisioning import ACTOR_ENROLMENT, add_first_staff
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, typed
from kiosk.ui.staff.base import StaffScreen


def _dots(pin: str) -> str:
    """The PIN as dots: never shown, never spoken."""
    return " ".join("●" * len(pin)) if pin else _("(nothing entered)")


class StaffPinScreen(StaffScreen):
    """「工作人员」: type the 6-digit PIN. Wrong PINs count towards the lock-out; the message says how long to wait."""

    name = "staff_pin"
    needs_staff = False

    def __init__(self, window: object) -> None:
        super().__init__(window)  # type: ignore[arg-type]
        self.pin = ""

    def title(self) -> str:
        return _("Staff sign-in")

    def announcement(self) -> str:
        if self.no_staff:
            return _(NO_STAFF_TEXT)
        return _("For village staff only. Type your 6-digit staff PIN, then touch Sign in.")

    @property
    def no_staff(self) -> bool:
        return not self.state.accounts.has_staff()

    def load(self) -> None:
        self.pin = ""
        state = self.state
        if state.member is not None:
            state.sign_out()  # every entry to staff mode is a fresh sign-in

    def build_body(self, box: QVBoxLayout) -> None:
        if self.no_staff:
            # No on-screen first set-up: anyone could walk up and make themselves staff. Say what to do instead.
            box.addWidget(widgets.label(_(NO_STAFF_TEXT), kind="notice", name="no_staff"))
            return
        box.addWidget(widgets.label(_dots(self.pin), kind="code", name="pin_display"))
        box.addWidget(
            widgets.Keypad(
                on_key=self._key, with_x=False, key_px=self.theme.target_px, gap_px=self.theme.gap_px
            )
        )

    def choices(self) -> list[Choice]:
        if self.no_staff:
            return [
                Choice(
                    "enrol",
                    _("Enrol kiosk"),
                    lambda: self.go("staff_enrol"),
                    detail=_("With a code from the township"),
                    kind="primary",
                )
            ]
        return [Choice("sign_in", _("Sign in"), self.sign_in)]

    def _key(self, key: str) -> None:
        self.pin = typed(self.pin, key, PIN_LENGTH)
        self.message = ""
        self.redraw()

    def keypad_digit(self, key: str) -> bool:
        if key.isdigit() and not self.no_staff:
            self._key(key)
            return True
        return False

    def keypad_backspace(self) -> bool:
        self._key("back")
        return True

    def on_confirm(self) -> bool:
        if not self.no_staff:
            self.sign_in()
        return True

    def sign_in(self) -> None:
        """Check the PIN in the background (argon2 takes a moment) and open staff mode when it is right."""
        pin, self.pin = self.pin, ""
        if not pin:
            self.show_message(_("Please type your PIN first."), speak=False)
            return
        accounts = self.state.accounts
        self.ctx.ops.write(lambda: accounts.verify_pin(pin), on_done=self._checked, on_error=self.fail)

    def _checked(self, result: PinResult | None) -> None:
        if result is None or not result.ok or result.staff is None:
            # Never spoken: someone nearby should not learn how the lock-out stands.
            self.show_message(result.message() if result else _("That PIN is not right."), speak=False)
            return
        self.state.sign_in(result.staff)
        self.win.show_screen("staff_home", remember=False)


class StaffSetupScreen(StaffScreen):
    """Set up a staff member: staff number, name, and a PIN typed twice. Open to a signed-in staff member, or for
    the kiosk's first staff member right after this window enrolled it (the accepted code is the authority)."""

    name = "staff_setup"
    needs_staff = False
    columns = 1

    def title(self) -> str:
        if self.first:
            return _("Enrolled. Now set up the first staff member")
        return _("Set up a staff member")

    @property
    def first(self) -> bool:
        """Setting up the first staff member after an accepted enrolment code (nobody is signed in)."""
        return self.state.member is None and self.state.first_staff_allowed

    def announcement(self) -> str:
        if self.state.setup.first_pin:
            return _("Type the same PIN again to confirm it.")
        if self.first:
            return _(
                "The township accepted the code. Set up the first staff member of this kiosk: they can then "
                "sign in with this PIN."
            )
        return _("Type the staff number and name, then choose a 6-digit PIN on the keypad.")

    def load(self) -> None:
        state = self.state
        if state.member is None and (not state.first_staff_allowed or state.accounts.has_staff()):
            # Without a PIN, only the first staff member, and only right after an accepted enrolment code.
            state.first_staff_allowed = False
            self.win.show_screen("staff_pin", remember=False)

    def build_body(self, box: QVBoxLayout) -> None:
        setup = self.state.setup
        self.text_field(
            box,
            name="staff_id",
            label=_("Staff number (for example S01)"),
            value=setup.staff_id,
            on_change=lambda t: setattr(setup, "staff_id", t),
        )
        self.text_field(
            box,
            name="staff_name",
            label=_("Staff member's name"),
            value=setup.name,
            on_change=lambda t: setattr(setup, "name", t),
        )
        prompt = _("Type the PIN again") if setup.first_pin else _("New PIN (6 digits)")
        box.addWidget(widgets.label(prompt, name="pin_prompt"))
        box.addWidget(widgets.label(_dots(setup.pin), kind="code", name="pin_display"))

    def side_panel(self) -> QWidget:
        # The keypad beside the fields: number, name, PIN and keypad together do not fit one column on the panel.
        return self.kept_keypad(on_key=self._key, with_x=False)

    def choices(self) -> list[Choice]:
        label = _("Save") if self.state.setup.first_pin else _("Next")
        return [Choice("save", label, self.save)]

    def _key(self, key: str) -> None:
        setup = self.state.setup
        setup.pin = typed(setup.pin, key, PIN_LENGTH)
        self.redraw()

    def keypad_digit(self, key: str) -> bool:
        if key.isdigit():
            self._key(key)
            return True
        return False

    def keypad_backspace(self) -> bool:
        self._key("back")
        return True

    def save(self) -> None:
        setup = self.state.setup
        try:
            if not setup.first_pin:
                check_new_pin(setup.pin)
                setup.first_pin, setup.pin = setup.pin, ""
                self.show_message(_("Now type the same PIN again."), "notice", speak=False)
                return
            if setup.pin != setup.first_pin:
                setup.pin = setup.first_pin = ""
                raise StaffError("pin_mismatch")
        except StaffError as exc:
            setup.pin = ""
            self.show_message(exc.message(), speak=False)
            return
        state = self.state
        staff_id, name, pin = setup.staff_id, setup.name, setup.first_pin
        member = state.member
        if member is not None:
            accounts = state.accounts
            self.ctx.ops.write(
                lambda: accounts.add(staff_id, name, pin, actor=member.staff_id),
                on_done=self._saved,
                on_error=self._refused,
            )
        elif state.first_staff_allowed:
            real = state.real
            self.ctx.ops.write(
                lambda: add_first_staff(real, staff_id, name, pin, actor=ACTOR_ENROLMENT),
                on_done=self._saved,
                on_error=self._refused,
            )
        else:
            self.win.show_screen("staff_pin", remember=False)

    def _refused(self, exc: BaseException) -> None:
        setup = self.state.setup
        setup.pin = setup.first_pin = ""
        self.fail(exc)

    def _saved(self, member: StaffMember) -> None:
        state = self.state
        state.setup = type(state.setup)()
        if state.member is None:
            state.first_staff_allowed = False  # once: the next one is added by a signed-in staff member
            state.sign_in(member)
        self.win.show_screen("staff_home", remember=False)
        current = self.win.current
        if current is not None:
            current.show_message(
                _("Staff member {staff_id} is set up.").format(staff_id=member.staff_id), "ok", speak=False
            )
