"""The device token, kept only in the OS keyring (service `cunzhan-device`, one account per kiosk data directory).

The token never goes into the database, settings, logs or crash reports: the store keeps only the device id and the
township address. A locked or missing keyring is a `CredentialError` whose `message()` says what to do.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from types import ModuleType

from cunzhan.i18n import N_, gettext
from kiosk.crypto import keyring_call

KEYRING_SERVICE = "cunzhan-device"


class CredentialError(RuntimeError):
    """The keyring cannot give or keep the device token."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)

    def message(self) -> str:
        return gettext(
            N_(
                "The kiosk cannot use the system keyring to keep its township credentials ({detail}). "
                "Unlock or start the keyring (for example gnome-keyring), then try again."
            )
        ).format(detail=self.detail)


def account_for(data_dir: Path | str) -> str:
    """Keyring account for one kiosk data directory (several kiosks may share one machine, as in tests)."""
    return "device-token:" + hashlib.sha256(os.path.abspath(str(data_dir)).encode()).hexdigest()[:16]


def _keyring() -> ModuleType:
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
    except Exception as exc:  # any import/backend failure is "no keyring", told to a person
        raise CredentialError(f"{type(exc).__name__}") from None
    if isinstance(backend, fail.Keyring):
        raise CredentialError("no keyring backend")
    return keyring


def save_token(data_dir: Path | str, token: str) -> None:
    """Store the device token and read it back (a keyring that silently drops secrets is an error)."""
    kr = _keyring()
    account = account_for(data_dir)
    try:
        keyring_call(kr.set_password, KEYRING_SERVICE, account, token)
        kept = keyring_call(kr.get_password, KEYRING_SERVICE, account)
    except Exception as exc:  # locked keyrings raise backend-specific errors
        raise CredentialError(type(exc).__name__) from None
    if kept != token:
        raise CredentialError("the keyring did not keep the token")


def load_token(data_dir: Path | str) -> str | None:
    """The device token, or None when this kiosk has none."""
    kr = _keyring()
    try:
        value = keyring_call(kr.get_password, KEYRING_SERVICE, account_for(data_dir))
    except Exception as exc:
        raise CredentialError(type(exc).__name__) from None
    return str(value) if value else None


def delete_token(data_dir: Path | str) -> None:
    """Forget the device token (re-enrolment, revocation)."""
    kr = _keyring()
    try:
        keyring_call(kr.delete_password, KEYRING_SERVICE, account_for(data_dir))
    except Exception as exc:
        from keyring.errors import PasswordDeleteError

        if isinstance(exc, PasswordDeleteError):
            return
        raise CredentialError(type(exc).__name__) from None
