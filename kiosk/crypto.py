"""Encryption at rest for personal fields, with the key held in the OS keyring.

One 256-bit master key per kiosk data directory lives in the keyring (service `cunzhan-kiosk`). From it, HKDF derives
an AES-256-GCM key for personal fields (name, ID number, phone, outbox payloads) and an HMAC key for the keyed hash
of ID numbers, which lets the store look a resident up without keeping the number in clear.

Each ciphertext is bound to where it is stored (`field_ref(table, column, row id)`, AES-GCM associated data, format
`v2:`): moved to another row or column it no longer decrypts, so fields cannot be swapped unnoticed. Fields written
before this (`v1:`, no associated data) are re-encrypted in place the first time a store uses its key
(`kiosk.store`); after that a `v1:` value is refused.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import NamedTuple, Protocol

from kiosk.i18n import N_, gettext

KEYRING_SERVICE = "cunzhan-kiosk"
_PREFIX = "v1:"  # before associated data: only `decrypt_unbound` reads it (the store's one-time upgrade)
_BOUND = "v2:"


def field_ref(table: str, column: str, row_id: str) -> str:
    """The associated data that binds a ciphertext to one table, column and row."""
    return f"{table}\x1f{column}\x1f{row_id}"


class KeyringUnavailable(RuntimeError):
    """No usable OS keyring: the kiosk cannot protect personal data, so it does not start its store."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)

    def message(self) -> str:
        return gettext(N_("No secure keyring is available on this computer ({detail}). "
                          "Start the system keyring service (for example gnome-keyring) and try again.")).format(
            detail=self.detail)


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


def _keyring_configured() -> bool:
    """Whether the person running the kiosk chose a keyring backend or its properties themselves (the
    `PYTHON_KEYRING_BACKEND` variable, `KEYRING_PROPERTY_*` variables, or a keyringrc.cfg file): then keyring's own
    discovery decides, and the fast path below stays out of the way."""
    if os.environ.get("PYTHON_KEYRING_BACKEND") or any(k.startswith("KEYRING_PROPERTY_") for k in os.environ):
        return True
    if sys.platform == "win32":  # keyring's config root on Windows (keyring.util.platform_)
        root = os.path.join(os.environ.get("LOCALAPPDATA", os.environ.get("ProgramData", ".")), "Python Keyring")
    else:
        root = os.path.join(os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"), "python_keyring")
    return os.path.exists(os.path.join(root, "keyringrc.cfg"))


def _fast_get(service: str, account: str) -> str | None:
    """The stored secret read straight from the platform's usual backend, or None when this path does not apply
    or finds nothing (the caller then asks keyring, which discovers its backends through entry points).

    Why: `import keyring` costs ~0.25 s (jaraco.context pulls in urllib.request) and `keyring.get_keyring()` another
    ~0.3 s of entry-point discovery, on every kiosk start-up, only to land on the backend named here. On Linux this
    reads the Secret Service item exactly as keyring's SecretService backend writes and finds it (default collection,
    attributes `service` and `username`); on Windows it uses keyring's WinVault backend without discovery."""
    if _keyring_configured():
        return None
    if sys.platform == "win32":
        from keyring.backends.Windows import WinVaultKeyring

        value: str | None = WinVaultKeyring().get_password(service, account)
        return value
    if not sys.platform.startswith("linux"):
        return None
    from contextlib import closing

    import secretstorage

    with closing(secretstorage.dbus_init()) as connection:
        collection = secretstorage.get_default_collection(connection)
        if collection.is_locked():
            return None  # keyring's backend knows how to ask for an unlock (and say it failed)
        for item in collection.search_items({"username": account, "service": service}):
            if item.is_locked():
                return None
            return item.get_secret().decode("utf-8")
    return None


def preload_keyring_modules() -> None:
    """Import what reading the store key needs, on the calling thread.

    The kiosk reads the key on a worker thread just after home is shown, while the main thread goes on importing
    (staff mode, speech, voice); importing the same packages from two threads at once can hand one of them a
    partially initialised module on Python 3.11, so the main thread imports these first (it costs the same either
    way: imports hold the GIL)."""
    if not _keyring_configured() and sys.platform.startswith("linux"):
        import cryptography.hazmat.backends.openssl  # noqa: F401 - the Secret Service session's key exchange
        import secretstorage  # noqa: F401 - _fast_get


def _keyring_get(service: str, account: str) -> str | None:
    try:
        found = _fast_get(service, account)
    except Exception:  # any trouble on the fast path: keyring's discovery gives the authoritative answer
        found = None
    if found is not None:
        return found
    try:
        import keyring

        return keyring.get_password(service, account)
    except Exception as exc:
        raise KeyringUnavailable(f"{type(exc).__name__}: {exc}") from exc


def _keyring_set(service: str, account: str, value: str) -> None:
    try:
        import keyring

        keyring.set_password(service, account, value)
    except Exception as exc:
        raise KeyringUnavailable(f"{type(exc).__name__}: {exc}") from exc


def hkdf_sha256(master: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 (RFC 5869) with no salt, on the standard library: the same bytes as `cryptography`'s
    `HKDF(SHA256(), length, salt=None, info)` (a test holds them equal), without importing `cryptography` at start-up
    (AES-GCM imports it on the first personal field instead)."""
    import hashlib
    import hmac

    prk = hmac.new(b"\0" * hashlib.sha256().digest_size, master, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def account_for(data_dir: str) -> str:
    """Keyring account name for one kiosk data directory (several stores may share a machine, as in tests)."""
    import hashlib

    return "store-key:" + hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:16]


class Cipher(Protocol):
    """What the store needs of a cipher: a `FieldCipher`, or a `PendingCipher` whose key is still on its way."""

    def encrypt(self, plain: str | None, *, where: str) -> str | None: ...

    def decrypt(self, sealed: str | None, *, where: str) -> str | None: ...

    def decrypt_unbound(self, sealed: str) -> str: ...

    def lookup_hash(self, value: str) -> str: ...


class FieldCipher(NamedTuple):
    """Encrypts personal fields and computes keyed hashes. Build it with `FieldCipher.for_data_dir`.
    (A NamedTuple: see kiosk.ui.theme.Palette.)"""

    enc_key: bytes
    mac_key: bytes

    def __repr__(self) -> str:
        return "FieldCipher(<keys hidden>)"  # never the key bytes in a log or a traceback

    @classmethod
    def from_master(cls, master: bytes) -> FieldCipher:
        return cls(hkdf_sha256(master, b"cunzhan field encryption"), hkdf_sha256(master, b"cunzhan id lookup"))

    @classmethod
    def for_data_dir(cls, data_dir: str, *, create: bool = True) -> FieldCipher:
        """Load this data directory's key from the keyring, creating it on first use."""
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
        return cls.from_master(base64.b64decode(stored))

    def encrypt(self, plain: str | None, *, where: str) -> str | None:
        """Seal `plain` for the place `where` (`field_ref(...)`) it will be stored."""
        if plain is None:
            return None
        import base64
        import secrets

        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self.enc_key).encrypt(nonce, plain.encode("utf-8"), where.encode("utf-8"))
        return _BOUND + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, sealed: str | None, *, where: str) -> str | None:
        """Open a field sealed for `where`; raises (cryptography's InvalidTag) for one sealed for anywhere else,
        and ValueError for anything not sealed this way (including unbound `v1:` values)."""
        if sealed is None:
            return None
        import base64

        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not sealed.startswith(_BOUND):
            raise ValueError("not a bound encrypted field")
        raw = base64.b64decode(sealed[len(_BOUND):])
        return AESGCM(self.enc_key).decrypt(raw[:12], raw[12:], where.encode("utf-8")).decode("utf-8")

    def decrypt_unbound(self, sealed: str) -> str:
        """Open a field written before associated data (`v1:`), for the store's one-time upgrade only."""
        import base64

        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not sealed.startswith(_PREFIX):
            raise ValueError("not an unbound encrypted field")
        raw = base64.b64decode(sealed[len(_PREFIX):])
        return AESGCM(self.enc_key).decrypt(raw[:12], raw[12:], None).decode("utf-8")

    @staticmethod
    def is_unbound(sealed: str | None) -> bool:
        return bool(sealed) and str(sealed).startswith(_PREFIX)

    def lookup_hash(self, value: str) -> str:
        """Keyed hash for finding a resident by ID number without storing it in clear."""
        import hashlib
        import hmac

        return hmac.new(self.mac_key, value.upper().encode(), hashlib.sha256).hexdigest()


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
