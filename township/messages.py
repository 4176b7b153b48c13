"""What the backend tells residents (through the kiosk) and staff, as translatable English message ids.

Per-op messages are written in the township's language (`townships.locale`, default zh_CN) with
`cunzhan.i18n.use_locale`; the kiosk shows them as they are.
"""

from __future__ import annotations

from cunzhan.i18n import N_

CONFIRMED = N_("Your booking is confirmed. Please come on time.")
CONFIRMED_LEASE = N_("Your booking is confirmed.")
PENDING_REVIEW = N_("We have your booking. Township staff will check it and let you know.")
WAITLISTED = N_("This session is full. You are number {position} on the waiting list.")
PROMOTED = N_("A seat became free. Your booking is now confirmed.")
PROMOTED_REVIEW = N_("A seat became free. Township staff will check your booking and let you know.")
SLOT_FULL = N_("Sorry, this session is full. Please choose another time.")
SESSION_CANCELLED = N_("Sorry, this session has been cancelled.")
SESSION_CLOSED = N_("Sorry, this session is not taking bookings any more.")
NOT_FOUND = N_("We could not find this booking or session.")
INVALID = N_("This request could not be read. Please ask the staff for help.")
OP_ID_REUSED = N_("This request number was already used for something else. Please ask the staff for help.")
DUPLICATE = N_("You already have a booking for this session.")
TOO_LATE = N_("Sorry, it is too late to change this booking.")
CANCELLED = N_("Your booking is cancelled.")
ALREADY_CANCELLED = N_("This booking was already cancelled.")
NOT_ACCEPTED = N_("This booking was not accepted, so there is nothing to cancel.")
RESCHEDULED = N_("Your booking has been moved to the new time.")
CHECKED_IN = N_("You are checked in. Please wait to be called.")
NOT_CONFIRMED = N_("This booking is not confirmed, so you cannot check in yet. Please ask the staff.")
NOT_ACTIVE = N_("This booking is no longer active.")
NOT_CHECKED_IN = N_("This resident is not checked in, so they cannot be called.")
CODE_TAKEN = N_("This booking code is already in use. Please ask the staff for help.")
BOOKING_EXISTS = N_("This booking was already received.")
FEEDBACK_THANKS = N_("Thank you for your feedback.")

# Staff decisions, told to the resident on the kiosk's next pull.
STAFF_CONFIRMED = N_("Township staff have confirmed your booking. Please come on time.")
STAFF_REJECTED = N_("Township staff could not accept your booking: {reason}")
STAFF_REJECTED_NO_REASON = N_("Township staff could not accept your booking. Please ask at the service hall.")
STAFF_CANCELLED = N_("Cancelled by township staff, as you asked.")
STAFF_REASSIGNED = N_("Township staff moved your booking to another time. Please check the new time.")
STAFF_SESSION_CANCELLED = N_("This session was cancelled by the township. {reason}")
STAFF_SESSION_CANCELLED_ALTERNATIVES = N_("Other times you could book: {times}.")
ATTENDED = N_("Thank you for coming.")
NO_SHOW = N_("You were not there for this session.")

# Refusals of staff actions in the console.
ERR_NOT_FOUND = N_("Not found.")
ERR_STATUS = N_("This booking cannot be changed in its current state.")
ERR_FULL = N_("That session is full.")
ERR_STARTED = N_("The session has already started: the booking can no longer be cancelled.")
ERR_TIMES = N_("The session must end after it starts.")
ERR_CAPACITY = N_("The capacity must be between 1 and 500.")
ERR_SESSION_NOT_OPEN = N_("That session is not open for bookings.")
ERR_USERNAME_TAKEN = N_("This user name is already taken.")
ERR_ROLE = N_("The role must be administrator, reviewer or provider.")
ERR_PASSWORD_SHORT = N_("The password must have at least 8 characters.")
