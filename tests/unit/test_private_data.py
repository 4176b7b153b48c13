"""Issue 14's kiosk-side findings: private files (4), plain-text labels (11), ciphertexts bound to their place (13).
(Finding 12 is in tests/unit/test_staff.py; the backend's in tests/integration/test_security.py.)"""

from __future__ import annotations

import base64
import os
import secrets
import sqlite3
import stat
import zipfile
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from cunzhan.fieldcrypto import FieldCipher, field_ref
from cunzhan.models import Dependent, Resident
from kiosk.store import Store


def _resident(name: str, number: str, phone: str) -> Resident:
    from kiosk.store import new_id

    rid = new_id()
    return Resident(
        rid, name, number, phone, "上坪村", False, None, (Dependent(new_id(), rid, "孙女", "孙女", 2015),)
    )


FIRST = "110101195001010019"
SECOND = "110101195001010027"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- finding 4 ---------------------------------------------------------------------------------------------------


def test_the_kiosk_database_and_its_folder_are_private(store: Store) -> None:
    store.save_resident(_resident("张三", FIRST, "13912345678"))
    folder = store.path.parent
    assert _mode(folder) == 0o700
    for name in ("kiosk.db", "kiosk.db-wal", "kiosk.db-shm"):
        assert _mode(folder / name) == 0o600, name


def test_an_old_readable_database_is_made_private_when_opened(store: Store) -> None:
    path, cipher = store.path, store.cipher
    store.close()
    os.chmod(path, 0o644)
    os.chmod(path.parent, 0o755)
    from cunzhan import paths

    again = Store(paths.database_path(), cipher)
    try:
        assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    finally:
        again.close()


def test_a_shared_sticky_folder_is_left_open_to_others(tmp_path: Path) -> None:
    """A database put straight into /tmp (or any sticky, shared folder) must not close that folder to every other
    program: the files are 0600 on their own."""
    from cunzhan.paths import secure_dir, secure_sqlite_file

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    secure_sqlite_file(shared / "township.db")
    assert _mode(shared) == 0o1777 and _mode(shared / "township.db") == 0o600
    own = secure_dir(tmp_path / "own")
    assert _mode(own) == 0o700


def test_the_diagnostics_zip_is_private(demo_store: Store) -> None:
    from kiosk.diagnostics import export_diagnostics

    path = export_diagnostics(demo_store, doctor=[])
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    with zipfile.ZipFile(path) as bundle:
        assert "manifest.json" in bundle.namelist()


# --- finding 13 --------------------------------------------------------------------------------------------------


def test_ciphertexts_cannot_be_swapped_between_rows_or_columns(store: Store) -> None:
    one = store.save_resident(_resident("张三", FIRST, "13912345678"))
    two = store.save_resident(_resident("李四", SECOND, "13700000000"))
    raw = sqlite3.connect(store.path)
    row_one = raw.execute("SELECT name_enc, phone_enc FROM residents WHERE id = ?", (one.id,)).fetchone()
    row_two = raw.execute("SELECT name_enc FROM residents WHERE id = ?", (two.id,)).fetchone()
    # Another row's name in this row: refused, never read as this resident's name.
    raw.execute("UPDATE residents SET name_enc = ? WHERE id = ?", (row_two[0], one.id))
    raw.commit()
    with pytest.raises(InvalidTag):
        store.resident(one.id)
    # This row's phone in its name column: refused too.
    raw.execute("UPDATE residents SET name_enc = ? WHERE id = ?", (row_one[1], one.id))
    raw.commit()
    with pytest.raises(InvalidTag):
        store.resident(one.id)
    raw.execute("UPDATE residents SET name_enc = ? WHERE id = ?", (row_one[0], one.id))
    raw.commit()
    raw.close()
    back = store.resident(one.id)
    assert back is not None and back.name == "张三"


def _unbound(cipher: FieldCipher, plain: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(12)
    return (
        "v1:" + base64.b64encode(nonce + AESGCM(cipher.enc_key).encrypt(nonce, plain.encode(), None)).decode()
    )


def test_fields_from_before_are_bound_once_and_unbound_ones_refused_after(store: Store) -> None:
    one = store.save_resident(_resident("张三", FIRST, "13912345678"))
    path = store.path
    cipher = store.cipher.inner  # type: ignore[attr-defined]
    assert isinstance(cipher, FieldCipher)
    old_name = _unbound(cipher, "张三")
    store.close()
    raw = sqlite3.connect(path)
    raw.execute(
        "UPDATE residents SET name_enc = ? WHERE id = ?", (old_name, one.id)
    )  # as an older version wrote
    raw.commit()
    again = Store(path, cipher)
    found = again.resident(one.id)
    assert found is not None and found.name == "张三"
    stored = raw.execute("SELECT name_enc FROM residents WHERE id = ?", (one.id,)).fetchone()[0]
    assert stored.startswith("v2:")
    assert cipher.decrypt(stored, where=field_ref("residents", "name_enc", one.id)) == "张三"
    # From now on an unbound value put in is refused: the old one in another row, or any new one.
    two = again.save_resident(_resident("李四", SECOND, "13700000000"))
    raw.execute("UPDATE residents SET name_enc = ? WHERE id = ?", (old_name, two.id))
    raw.commit()
    with pytest.raises(ValueError, match="not a bound"):
        again.resident(two.id)
    raw.execute("UPDATE residents SET name_enc = ? WHERE id = ?", (_unbound(cipher, "王五"), one.id))
    raw.commit()
    raw.close()
    with pytest.raises(ValueError, match="not a bound"):
        again.resident(one.id)
    again.close()


# --- finding 11 --------------------------------------------------------------------------------------------------


def test_labels_show_text_from_the_township_as_plain_text(qapp: object) -> None:
    from PySide6.QtCore import Qt

    from kiosk.ui import widgets

    reason = '<b>迟到</b><img src="http://example.invalid/x.png"><a href="http://x">点这里</a>'
    shown = widgets.label(reason, kind="notice")
    assert shown.textFormat() == Qt.TextFormat.PlainText
    assert shown.text() == reason  # every character shown as typed, no tag interpreted
