"""The resident's screens, one module each. `ALL_SCREENS` is what the window registers, in journey order."""

from __future__ import annotations

from kiosk.ui.screen import Screen


def all_screens() -> list[type[Screen]]:
    """Every resident screen class (imported here so start-up pays only for what it uses)."""
    from kiosk.ui.screens import (
        bookings,
        checkin,
        confirm,
        day,
        done,
        exit_pin,
        feedback,
        for_you,
        home,
        identify,
        modes,
        provider,
        service,
        slip,
        timeslot,
        who,
    )

    return [home.HomeScreen, modes.ModesScreen, service.ServiceScreen, provider.ProviderScreen, day.DayScreen,
            timeslot.TimeScreen, who.WhoScreen, who.RelationScreen, who.BirthYearScreen,
            identify.IdentifyScreen, confirm.ConfirmScreen, done.DoneScreen, slip.SlipScreen,
            bookings.BookingListScreen, bookings.BookingDetailScreen, bookings.CancelScreen,
            checkin.CheckInScreen, checkin.CheckInCodeScreen, checkin.CheckedInScreen, for_you.ForYouScreen,
            feedback.FeedbackScreen, exit_pin.ExitPinScreen]
