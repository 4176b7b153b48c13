"""The kiosk asks the keyring once more when its service went away mid-call (gnome-keyring's daemon restarting: the
session bus starts it again), and never retries what is not that (a locked keyring, a prompt nobody answers)."""

from __future__ import annotations

import pytest
from keyring.errors import InitError, KeyringLocked
from secretstorage.exceptions import SecretServiceNotAvailableException

from kiosk import crypto


class Flaky:
    """A keyring call that fails the first `failures` times with `error`, then answers."""

    def __init__(self, error: Exception, failures: int = 1) -> None:
        self.error, self.failures, self.calls = error, failures, 0

    def __call__(self, service: str, account: str) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return f"{service}/{account}"


def _gone() -> Exception:
    """What keyring raises when the daemon disconnected while answering (as seen in the suite)."""
    try:
        raise SecretServiceNotAvailableException(
            "Message recipient disconnected from message bus without replying"
        )
    except SecretServiceNotAvailableException as exc:
        try:
            raise InitError(f"Failed to create the collection: {exc}.") from exc
        except InitError as outer:
            return outer


@pytest.fixture(autouse=True)
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "KEYRING_RETRY_S", 0)


def test_a_keyring_service_gone_mid_call_is_asked_once_more() -> None:
    call = Flaky(_gone())
    assert crypto.keyring_call(call, "s", "a") == "s/a" and call.calls == 2


def test_gone_twice_is_an_error() -> None:
    call = Flaky(_gone(), failures=2)
    with pytest.raises(InitError):
        crypto.keyring_call(call, "s", "a")
    assert call.calls == 2


def test_a_locked_keyring_is_not_retried() -> None:
    call = Flaky(KeyringLocked("Failed to unlock the collection!"))
    with pytest.raises(KeyringLocked):
        crypto.keyring_call(call, "s", "a")
    assert call.calls == 1
