from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cunzhan.codes import format_code, is_valid_code, make_code, normalise_code


@given(st.integers(0, 99), st.integers(0, 10**6))
def test_codes_validate_and_are_unique_per_kiosk(kiosk: int, seq: int) -> None:
    code = make_code(kiosk, seq)
    assert code.isdigit() and is_valid_code(code)
    assert code[:2] == f"{kiosk:02d}"
    assert make_code(kiosk, seq + 1) != code
    assert normalise_code(format_code(code)) == code


@given(st.integers(0, 99), st.integers(0, 9999), st.data())
def test_single_digit_errors_and_neighbour_swaps_are_caught(
    kiosk: int, seq: int, data: st.DataObject
) -> None:
    code = make_code(kiosk, seq)
    i = data.draw(st.integers(0, len(code) - 1))
    wrong = str((int(code[i]) + data.draw(st.integers(1, 9))) % 10)
    assert not is_valid_code(code[:i] + wrong + code[i + 1 :])
    j = data.draw(st.integers(0, len(code) - 2))
    if code[j] != code[j + 1]:
        swapped = code[:j] + code[j + 1] + code[j] + code[j + 2 :]
        assert not is_valid_code(swapped)


def test_codes_from_two_kiosks_never_collide() -> None:
    a = {make_code(3, s) for s in range(2000)}
    b = {make_code(4, s) for s in range(2000)}
    assert len(a) == 2000 and not a & b
