"""Village staff mode: PIN sign-in, assisted booking, today's sessions, look-up, sync, settings, enrolment,
practice mode, diagnostics, leaving the kiosk. Every action is audited (`kiosk.staff`).

`install_staff_mode(window)` registers the staff screens on a kiosk window and adds the staff entry: Ctrl+Shift+F11
on a keyboard, and `open_staff_mode(window)` for a touch entry the window offers (e.g. after 「呼叫工作人员」).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.ui.screen import Screen
    from kiosk.ui.window import KioskWindow


def staff_screens() -> list[type[Screen]]:
    """Every staff screen class."""
    from kiosk.ui.staff import book, calllist, enrol, home, lookup, pin, room, settings, sync, today

    return [
        pin.StaffPinScreen,
        pin.StaffSetupScreen,
        home.StaffHomeScreen,
        book.StaffBookScreen,
        book.StaffBookTimeScreen,
        book.StaffBookWhoScreen,
        book.StaffBookFamilyScreen,
        book.StaffBookConsentScreen,
        book.StaffBookConfirmScreen,
        today.StaffTodayScreen,
        today.StaffSessionScreen,
        room.StaffRoomScreen,
        calllist.StaffCallListScreen,
        lookup.StaffLookupScreen,
        lookup.StaffBookingScreen,
        sync.StaffSyncScreen,
        settings.StaffSettingsScreen,
        settings.StaffSettingEditScreen,
        enrol.StaffEnrolScreen,
    ]


def open_staff_mode(window: KioskWindow) -> None:
    """Go to the staff PIN screen (on a kiosk with no staff, it says how to get the first staff member)."""
    window.show_screen("staff_pin")


def install_staff_mode(window: KioskWindow) -> None:
    """Register the staff screens on `window` and the keyboard entry (Ctrl+Shift+F11)."""
    from PySide6.QtGui import QKeySequence, QShortcut

    for screen_class in staff_screens():
        window.register(screen_class)
    shortcut = QShortcut(QKeySequence("Ctrl+Shift+F11"), window)
    shortcut.setObjectName("staff_shortcut")
    shortcut.activated.connect(lambda: open_staff_mode(window))

    from kiosk.ui.staff.state import staff_state

    # The idle timeout (or the end of a visit) also ends a staff session: a staff member who walks away is signed
    # out, with the sign-out audited, before the kiosk shows home again.
    window.before_end_visit.append(lambda: staff_state(window).sign_out())
