"""Encryption at rest for personal fields, with the key held in the OS keyring.

One 256-bit master key per kiosk data directory lives in the keyring (service `cunzhan-kiosk`). From it, HKDF derives
an AES-256-GCM key for personal fields (name, ID number, phone, outbox payloads) and an HMAC key for the keyed hash
of ID numbers, which lets the store look a resident up without keeping the number in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from kiosk.i18n import N_, gettext

KEYRING_SERVICE = "cunzhan-kiosk"
_PREFIX = "v1:"


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


def _keyring_get(service: str, account: str) -> str | None:
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


def account_for(data_dir: str) -> str:
    """Keyring account name for one kiosk data directory (several stores may share a machine, as in tests)."""
    return "store-key:" + hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class FieldCipher:
    """Encrypts personal fields and computes keyed hashes. Build it with `FieldCipher.for_data_dir`."""

    enc_key: bytes
    mac_key: bytes

    @classmethod
    def from_master(cls, master: bytes) -> FieldCipher:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        def derive(info: bytes) -> bytes:
            return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)

        return cls(derive(b"cunzhan field encryption"), derive(b"cunzhan id lookup"))

    @classmethod
    def for_data_dir(cls, data_dir: str, *, create: bool = True) -> FieldCipher:
        """Load this data directory's key from the keyring, creating it on first use."""
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

    def encrypt(self, plain: str | None) -> str | None:
        if plain is None:
            return None
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self.enc_key).encrypt(nonce, plain.encode("utf-8"), None)
        return _PREFIX + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, sealed: str | None) -> str | None:
        if sealed is None:
            return None
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not sealed.startswith(_PREFIX):
            raise ValueError("not an encrypted field")
        raw = base64.b64decode(sealed[len(_PREFIX):])
        return AESGCM(self.enc_key).decrypt(raw[:12], raw[12:], None).decode("utf-8")

    def lookup_hash(self, value: str) -> str:
        """Keyed hash for finding a resident by ID number without storing it in clear."""
        return hmac.new(self.mac_key, value.upper().encode(), hashlib.sha256).hexdigest()
