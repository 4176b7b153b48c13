"""The resident's screens, one module each, registered by name in `SCREENS` (in journey order)."""

from __future__ import annotations

from kiosk.ui.screen import Screen

# name → "module:Class": the window imports a screen the first time it is shown (start-up pays only for home).
SCREENS: dict[str, str] = {
    "home": "home:HomeScreen",
    "modes": "modes:ModesScreen",
    "service": "service:ServiceScreen",
    "provider": "provider:ProviderScreen",
    "day": "day:DayScreen",
    "time": "timeslot:TimeScreen",
    "who": "who:WhoScreen",
    "relation": "who:RelationScreen",
    "birth_year": "who:BirthYearScreen",
    "consent": "consent:ConsentScreen",
    "identify": "identify:IdentifyScreen",
    "remember": "remember:RememberScreen",
    "phone": "phone:PhoneScreen",
    "phone_number": "phone:PhoneNumberScreen",
    "confirm": "confirm:ConfirmScreen",
    "done": "done:DoneScreen",
    "slip": "slip:SlipScreen",
    "booking_list": "bookings:BookingListScreen",
    "booking_detail": "bookings:BookingDetailScreen",
    "cancel": "bookings:CancelScreen",
    "check_in": "checkin:CheckInScreen",
    "check_in_code": "checkin:CheckInCodeScreen",
    "checked_in": "checkin:CheckedInScreen",
    "for_you": "for_you:ForYouScreen",
    "feedback": "feedback:FeedbackScreen",
    "rate_invite": "rate_invite:RateInviteScreen",
    "comment": "comment:CommentScreen",
    "exit_pin": "exit_pin:ExitPinScreen",
}


def load(name: str) -> type[Screen]:
    """Import and return the screen class registered as `name`."""
    import importlib

    module, cls = SCREENS[name].split(":")
    loaded: type[Screen] = getattr(importlib.import_module(f"kiosk.ui.screens.{module}"), cls)
    return loaded
