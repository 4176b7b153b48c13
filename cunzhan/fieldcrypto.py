"""Field encryption shared by the kiosk and the backend: AES-256-GCM for personal fields, bound to where each is
stored, and a keyed hash for look-ups. Where the master key comes from is each side's business (the kiosk's OS keyring,
`kiosk.crypto`; the backend's key file, `township.keys`).

Each ciphertext is bound to where it is stored (`field_ref(table, column, row id)`, AES-GCM associated data, format
`v2:`): moved to another row or column it no longer decrypts, so fields cannot be swapped unnoticed. Fields written
before this (`v1:`, no associated data) are re-encrypted in place the first time a kiosk store uses its key; after that
a `v1:` value is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = (
    "v1:"  # before associated data: only `decrypt_unbound` reads it (the kiosk store's one-time upgrade)
)
_BOUND = "v2:"
SEALED_PREFIX = _BOUND  # how every value `FieldCipher.encrypt` writes begins


def field_ref(table: str, column: str, row_id: str) -> str:
    """The associated data that binds a ciphertext to one table, column and row."""
    return f"{table}\x1f{column}\x1f{row_id}"


def _hkdf(master: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 (RFC 5869), no salt."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)


@cache
def _aead(key: bytes) -> AESGCM:
    """One AES-GCM object per key (its key schedule made once; it keeps no state between calls, so threads share
    it). Imported on first use: `cryptography` is not on the kiosk's start-up path."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


class Cipher(Protocol):
    """What the store needs of a cipher: a `FieldCipher`, or a `PendingCipher` whose key is still on its way."""

    def encrypt(self, plain: str | None, *, where: str) -> str | None: ...

    def decrypt(self, sealed: str | None, *, where: str) -> str | None: ...

    def decrypt_unbound(self, sealed: str) -> str: ...

    def lookup_hash(self, value: str) -> str: ...


@dataclass(frozen=True, slots=True)
class FieldCipher:
    """Encrypts personal fields and computes keyed hashes. The kiosk builds it from its keyring
    (`kiosk.crypto.store_cipher`), the backend from its key file (`township.keys`)."""

    enc_key: bytes
    mac_key: bytes

    def __repr__(self) -> str:
        return "FieldCipher(<keys hidden>)"  # never the key bytes in a log or a traceback

    @classmethod
    def from_master(cls, master: bytes) -> FieldCipher:
        return cls(_hkdf(master, b"cunzhan field encryption"), _hkdf(master, b"cunzhan id lookup"))

    def encrypt(self, plain: str | None, *, where: str) -> str | None:
        """Seal `plain` for the place `where` (`field_ref(...)`) it will be stored."""
        if plain is None:
            return None
        import base64
        import secrets

        nonce = secrets.token_bytes(12)
        sealed = _aead(self.enc_key).encrypt(nonce, plain.encode("utf-8"), where.encode("utf-8"))
        return _BOUND + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, sealed: str | None, *, where: str) -> str | None:
        """Open a field sealed for `where`; raises (cryptography's InvalidTag) for one sealed for anywhere else,
        and ValueError for anything not sealed this way (including unbound `v1:` values)."""
        if sealed is None:
            return None
        import base64

        if not sealed.startswith(_BOUND):
            raise ValueError("not a bound encrypted field")
        raw = base64.b64decode(sealed[len(_BOUND) :])
        return _aead(self.enc_key).decrypt(raw[:12], raw[12:], where.encode("utf-8")).decode("utf-8")

    def decrypt_unbound(self, sealed: str) -> str:
        """Open a field written before associated data (`v1:`), for the store's one-time upgrade only."""
        import base64

        if not sealed.startswith(_PREFIX):
            raise ValueError("not an unbound encrypted field")
        raw = base64.b64decode(sealed[len(_PREFIX) :])
        return _aead(self.enc_key).decrypt(raw[:12], raw[12:], None).decode("utf-8")

    def lookup_hash(self, value: str) -> str:
        """Keyed hash for finding a resident by ID number without storing it in clear."""
        import hashlib
        import hmac

        return hmac.new(self.mac_key, value.upper().encode(), hashlib.sha256).hexdigest()


def match_hash(key_hex: str, id_number: str) -> str:
    """The keyed hash that lets one kiosk recognise an ID number in a booking the township made for it by phone
    (docs/sync.md, "Phone bookings"). `key_hex` is that kiosk's own match key: the backend derives it from its data
    key and the device id, so the hash means nothing to another kiosk, and nothing to someone who reads only the
    township's database."""
    import hashlib
    import hmac

    return hmac.new(bytes.fromhex(key_hex), id_number.strip().upper().encode(), hashlib.sha256).hexdigest()
