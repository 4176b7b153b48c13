"""The booking statuses and their sets (cunzhan.models), the one definition both the kiosk and the backend use."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from cunzhan import protocol
from cunzhan.models import ACTIVE, CHANGEABLE, CHECKED_IN_OR_LATER, ENDED, HOLDS_SEAT, BookingStatus


def test_every_status_is_either_active_or_ended() -> None:
    assert ACTIVE | ENDED == set(BookingStatus)
    assert not ACTIVE & ENDED


def test_a_booking_waiting_for_review_holds_its_seat_and_a_waiting_list_place_does_not() -> None:
    assert BookingStatus.PENDING_REVIEW in HOLDS_SEAT
    assert BookingStatus.PENDING_REVIEW.holds_seat
    assert {BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN, BookingStatus.ATTENDED} <= HOLDS_SEAT
    assert not HOLDS_SEAT & {BookingStatus.WAITLISTED, BookingStatus.REJECTED, BookingStatus.CANCELLED}
    assert BookingStatus.NO_SHOW not in HOLDS_SEAT  # nobody came: the seat was not used
    # `requested` exists only on the kiosk, where its seat depends on its lease (kiosk.booking decides).
    assert BookingStatus.REQUESTED not in HOLDS_SEAT


def test_what_may_still_change_and_what_is_too_late() -> None:
    assert CHANGEABLE == ACTIVE - {BookingStatus.CHECKED_IN}
    assert {BookingStatus.PENDING_REVIEW, BookingStatus.CONFIRMED, BookingStatus.WAITLISTED} <= CHANGEABLE
    assert not CHANGEABLE & CHECKED_IN_OR_LATER
    assert CHECKED_IN_OR_LATER == {BookingStatus.CHECKED_IN, BookingStatus.ATTENDED, BookingStatus.NO_SHOW}


def test_the_sets_match_the_database_strings() -> None:
    """The backend stores plain strings and compares them with these sets (in Python and in SQL `IN` lists)."""
    assert "pending_review" in HOLDS_SEAT
    assert "waitlisted" not in HOLDS_SEAT
    assert "checked_in" in ACTIVE


def test_the_wire_carries_the_status_as_its_value() -> None:
    sent = {"id": "b1", "status": "pending_review", "code": "0700423", "session_id": "s1", "version": 2}
    summary = protocol.BookingSummary.model_validate(sent)
    assert summary.status is BookingStatus.PENDING_REVIEW
    assert json.loads(summary.model_dump_json()) == sent
    with pytest.raises(ValidationError):
        protocol.BookingSummary.model_validate({**sent, "status": "maybe"})
