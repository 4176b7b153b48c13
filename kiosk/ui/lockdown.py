"""Lock-down: the staff PIN is the only way out of a full-screen kiosk.

`LockDown` keeps whether the window may close (Alt+F4 and the window manager's close do nothing on a locked kiosk);
`check_exit_pin` is one small seam over staff mode's PIN check (`kiosk.staff.verify_pin`, with its lock-out after
wrong tries), so the exit screen never knows how PINs are kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.store import Store
    from kiosk.ui.window import KioskWindow


class LockDown:
    """Whether `window` is locked down, and the ways out of it."""

    def __init__(self, window: KioskWindow, *, locked: bool) -> None:
        self.window = window
        self.locked = locked

    def may_close(self) -> bool:
        """Whether a close request (Alt+F4, the window manager) closes the window."""
        return not self.locked

    def request_exit(self) -> None:
        """The only way out of a locked kiosk: the staff PIN screen (closes the window when the PIN is right)."""
        if not self.locked:
            self.window.close()
            return
        self.window.show_screen("exit_pin")

    def unlock_and_close(self) -> None:
        self.locked = False
        self.window.close()


def check_exit_pin(store: Store, pin: str) -> tuple[bool, str]:
    """Whether `pin` lets staff leave the locked kiosk, and what to say when it does not."""
    from kiosk.staff.accounts import verify_pin

    result = verify_pin(store, pin)
    return result.ok, result.message()
