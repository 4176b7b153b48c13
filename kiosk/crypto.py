"""Encryption at rest for personal fields, with the key held in the OS keyring.

One 256-bit master key per kiosk data directory lives in the keyring (service `cunzhan-kiosk`). From it, HKDF derives
an AES-256-GCM key for personal fields (name, ID number, phone, outbox payloads) and an HMAC key for the keyed hash
of ID numbers, which lets the store look a resident up without keeping the number in clear.

The cipher itself (and how fields are bound to where they are stored) is `cunzhan.fieldcrypto`, shared with the
backend; this module holds what only the kiosk does: the keyring, and reading the key after the first frame.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from cunzhan.fieldcrypto import FieldCipher
from cunzhan.i18n import N_, gettext

KEYRING_SERVICE = "cunzhan-kiosk"
T = TypeVar("T")


class KeyringUnavailable(RuntimeError):
    """No usable OS keyring: the kiosk cannot protect personal data, so it does not start its store."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)

    def message(self) -> str:
        return gettext(
            N_(
                "No secure keyring is available on this computer ({detail}). "
                "Start the system keyring service (for example gnome-keyring) and try again."
            )
        ).format(detail=self.detail)


def keyring_status() -> tuple[bool, str]:
    """Whether a real keyring backend is usable, and its name or the problem (for `doctor`)."""
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring) or "fail" in type(backend).__module__:
            return False, "no keyring backend"
        name = f"{type(backend).__module__}.{type(backend).__name__}"
        if "chainer" in name.lower() and not getattr(backend, "backends", None):
            return False, "no keyring backend"
        probe = f"probe-{os.getpid()}"
        keyring.set_password(KEYRING_SERVICE, probe, "1")
        keyring.delete_password(KEYRING_SERVICE, probe)
        return True, name
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


def preload_keyring_modules() -> None:
    """Import what reading the store key needs, on the calling thread.

    The kiosk reads the key on a worker thread just after home is shown, while the main thread goes on importing
    (staff mode, speech, voice); importing the same packages from two threads at once can hand one of them a
    partially initialised module on Python 3.11, so the main thread imports these first (it costs the same either
    way: imports hold the GIL)."""
    import keyring  # keyring.core, the backend base classes and their jaraco helpers

    if sys.platform.startswith("linux"):
        import keyring.backends.SecretService  # noqa: F401 - secretstorage, and cryptography for its session


KEYRING_RETRY_S = 0.5  # how long to let a restarting keyring service come back before asking it once more
# What D-Bus says when the keyring service went away in the middle of a call, or is not there for a moment (its
# daemon restarting; the session bus starts it again on the next call).
_SERVICE_GONE = ("NoReply", "disconnected from message bus", "ServiceUnknown", "SecretServiceNotAvailable")


def keyring_call(call: Callable[..., T], *args: str) -> T:
    """`call(*args)` on the keyring, asked once more after `KEYRING_RETRY_S` when the keyring service went away
    mid-call (seen in the test suite: gnome-keyring's daemon gone during a request, started again by the bus); any
    other failure (a locked keyring, a prompt nobody answers) is raised at once."""
    try:
        return call(*args)
    except Exception as exc:
        if not _service_gone(exc):
            raise
    time.sleep(KEYRING_RETRY_S)
    return call(*args)


def _service_gone(exc: BaseException | None) -> bool:
    while exc is not None:
        if any(mark in f"{type(exc).__name__}: {exc}" for mark in _SERVICE_GONE):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _keyring_get(service: str, account: str) -> str | None:
    try:
        import keyring

        return keyring_call(keyring.get_password, service, account)
    except Exception as exc:
        raise KeyringUnavailable(f"{type(exc).__name__}: {exc}") from exc


def _keyring_set(service: str, account: str, value: str) -> None:
    try:
        import keyring

        keyring_call(keyring.set_password, service, account, value)
    except Exception as exc:
        raise KeyringUnavailable(f"{type(exc).__name__}: {exc}") from exc


def account_for(data_dir: str) -> str:
    """Keyring account name for one kiosk data directory (several stores may share a machine, as in tests)."""
    import hashlib

    return "store-key:" + hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:16]


def store_cipher(data_dir: str, *, create: bool = True) -> FieldCipher:
    """The field cipher of one kiosk data directory, its key loaded from the keyring (created on first use)."""
    import base64
    import secrets

    account = account_for(data_dir)
    stored = _keyring_get(KEYRING_SERVICE, account)
    if stored is None:
        if not create:
            raise KeyringUnavailable("the store key is missing from the keyring")
        stored = base64.b64encode(secrets.token_bytes(32)).decode()
        _keyring_set(KEYRING_SERVICE, account, stored)
        if _keyring_get(KEYRING_SERVICE, account) != stored:
            raise KeyringUnavailable("the keyring did not keep the store key")
    return FieldCipher.from_master(base64.b64decode(stored))


class PendingCipher:
    """A `FieldCipher` whose key is read from the keyring after the kiosk's home screen is on screen.

    The home screen shows no personal data, so the kiosk does not make its first touch wait for the keyring (a D-Bus
    round trip and ~45 ms of imports). The kiosk calls `load()` on a worker thread right after the first frame. Any
    personal field used before that finishes waits for it; used before it starts, it reads the key there and then.
    If reading failed, every use raises the same error (`KeyringUnavailable`), which the kiosk shows as its
    start-up problem."""

    def __init__(self, read_key: Callable[[], FieldCipher]) -> None:
        self._read_key = read_key
        self._lock = threading.Lock()
        self._cipher: FieldCipher | None = None
        self._error: BaseException | None = None

    def load(self) -> FieldCipher:
        """The cipher: read the key the first time (later calls give the first outcome, or wait for it)."""
        with self._lock:
            if self._cipher is None and self._error is None:
                try:
                    self._cipher = self._read_key()
                except BaseException as exc:
                    self._error = exc
        if self._error is not None:
            raise self._error
        assert self._cipher is not None
        return self._cipher

    def encrypt(self, plain: str | None, *, where: str) -> str | None:
        return self.load().encrypt(plain, where=where)

    def decrypt(self, sealed: str | None, *, where: str) -> str | None:
        return self.load().decrypt(sealed, where=where)

    def decrypt_unbound(self, sealed: str) -> str:
        return self.load().decrypt_unbound(sealed)

    def lookup_hash(self, value: str) -> str:
        return self.load().lookup_hash(value)
