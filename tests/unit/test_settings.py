from __future__ import annotations

import pytest

from kiosk import settings as s


def test_every_setting_has_a_default_and_description() -> None:
    declared = s.declared()
    assert len(declared) >= 15
    for setting in declared.values():
        assert setting.description.strip()
        assert isinstance(setting.default, setting.type)


def test_environment_overrides_and_bad_values_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    view = s.Settings({"idle_scale": "not a number", "private_audio": "true"})
    assert view.get(s.IDLE_SCALE) == 1.0
    assert view.get(s.PRIVATE_AUDIO) is True
    monkeypatch.setenv("CUNZHAN_PRIVATE_AUDIO", "false")
    assert view.get(s.PRIVATE_AUDIO) is False


def test_declaring_twice_is_an_error() -> None:
    with pytest.raises(ValueError):
        s.declare("locale", str, "x", "dup")
