"""Lock-down: the staff PIN is the only way out of a full-screen kiosk.

One small seam over staff mode's PIN check (`kiosk.staff.verify_pin`, with its lock-out after wrong tries), so the
exit screen never knows how PINs are kept.
"""

from __future__ import annotations

from kiosk.store import Store


def check_exit_pin(store: Store, pin: str) -> tuple[bool, str]:
    """Whether `pin` lets staff leave the locked kiosk, and what to say when it does not."""
    from kiosk.staff import verify_pin

    result = verify_pin(store, pin)
    return result.ok, result.message()
