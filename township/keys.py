"""Secrets the township backend keeps outside its database, so that a copy of the database (a backup, a stolen disk
image, a readable file) gives no way to sign in to the console.

- The console's cookie signing key: `CUNZHAN_CONSOLE_SECRET` when set (containers pass it in the environment; it
  wins over the file), else the file `console.key` (0600, 64 hex digits, made on first start) in the folder beside
  the SQLite database, or in the backend's data directory (`township.db.data_dir()`, 0700) for PostgreSQL.

- The personal-data key: `CUNZHAN_DATA_KEY` when set (64 hex digits; it wins), else the file `data.key` beside
  `console.key`. Residents' ID numbers, names and phones are AES-256-GCM encrypted with it in the township database
  (each value bound to its table, column and row id), and ID numbers are matched through a keyed hash (a blind
  index) made with a second key derived from it. Without this key a copy of the database holds no resident's
  number, name or phone; without a copy of the key, a backup cannot be read either: keep them apart, keep both.

Several backend processes share one file: it is created with O_EXCL, so the first writes it and the others read it.
"""

from __future__ import annotations

import os
import secrets
import weakref
from pathlib import Path
from typing import Any

from cunzhan.fieldcrypto import SEALED_PREFIX, FieldCipher, field_ref
from cunzhan.paths import secure_dir

CONSOLE_SECRET_ENV = "CUNZHAN_CONSOLE_SECRET"
CONSOLE_KEY_FILE = "console.key"
DATA_KEY_ENV = "CUNZHAN_DATA_KEY"
DATA_KEY_FILE = "data.key"


def key_dir(db_url: str) -> Path:
    """Where the key files live: the SQLite database's folder, else the backend's data directory (both 0700)."""
    if db_url.startswith("sqlite") and "///" in db_url:
        path = db_url.split("///", 1)[1]
        if path and path != ":memory:":
            return secure_dir(Path(path).resolve().parent)
    from township.db import data_dir

    return data_dir()


def read_or_create(path: Path) -> str:
    """The secret in `path` (64 hex digits), created 0600 when missing; a file others could read is made 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
    if os.name == "posix" and path.stat().st_mode & 0o077:
        path.chmod(0o600)
    text = path.read_text(encoding="ascii").strip()
    if len(text) < 32:
        # A second process may read between the first one's create and write: wait for the whole key.
        import time

        for _ in range(50):
            time.sleep(0.02)
            text = path.read_text(encoding="ascii").strip()
            if len(text) >= 32:
                break
        else:
            raise RuntimeError(f"the key file {path} is empty or too short")
    return text


_from_files: dict[str, str] = {}  # database URL → the key read from its file (read once per process)


def console_secret(db_url: str) -> str:
    """The console's cookie signing key (the environment wins over the key file)."""
    from_env = os.environ.get(CONSOLE_SECRET_ENV, "")
    if from_env:
        return from_env
    key = _from_files.get(db_url)
    if key is None:
        key = _from_files[db_url] = read_or_create(key_dir(db_url) / CONSOLE_KEY_FILE)
    return key


_ciphers: dict[str, FieldCipher] = {}  # database URL → its personal-data cipher
_by_engine: weakref.WeakKeyDictionary[Any, FieldCipher] = weakref.WeakKeyDictionary()  # engine → the same


def data_cipher(db_url: str) -> FieldCipher:
    """The cipher for residents' personal fields in the database at `db_url` (the environment wins over the file)."""
    from_env = os.environ.get(DATA_KEY_ENV, "").strip()
    if from_env:
        try:
            master = bytes.fromhex(from_env)
        except ValueError:
            master = b""
        if len(master) != 32:
            raise RuntimeError(f"{DATA_KEY_ENV} must be 64 hex digits")
        return FieldCipher.from_master(master)
    cipher = _ciphers.get(db_url)
    if cipher is None:
        cipher = _ciphers[db_url] = FieldCipher.from_master(
            bytes.fromhex(read_or_create(key_dir(db_url) / DATA_KEY_FILE))
        )
    return cipher


def cipher_for(conn: Any) -> FieldCipher:
    """`data_cipher` for the database a SQLAlchemy connection is on."""
    if os.environ.get(DATA_KEY_ENV, "").strip():
        return data_cipher("")
    engine = conn.engine
    cipher = _by_engine.get(engine)
    if cipher is None:
        cipher = _by_engine[engine] = data_cipher(engine.url.render_as_string(hide_password=False))
    return cipher


def seal_comment(conn: Any, feedback_id: str, text: str | None) -> str | None:
    """A resident's free-text comment as stored: sealed like names and phones (it may name a person or an
    illness), bound to its feedback row."""
    return cipher_for(conn).encrypt(text or None, where=field_ref("feedback", "comment", feedback_id))


def open_comment(conn: Any, feedback_id: str, stored: str | None) -> str | None:
    """A stored comment's text. One written before comments were sealed is returned as it is until
    `seal_old_comments` (run at start) has sealed it."""
    if not stored or not stored.startswith(SEALED_PREFIX):
        return stored or None
    return cipher_for(conn).decrypt(stored, where=field_ref("feedback", "comment", feedback_id))


def seal_note(conn: Any, feedback_id: str, text: str | None) -> str | None:
    """Staff's follow-up note on a low rating as stored: sealed like the comment it answers (it may name the
    resident, a relative or an illness), bound to its feedback row."""
    return cipher_for(conn).encrypt(text or None, where=field_ref("feedback", "follow_up_note", feedback_id))


def open_note(conn: Any, feedback_id: str, stored: str | None) -> str | None:
    """A stored follow-up note's text."""
    if not stored:
        return None
    return cipher_for(conn).decrypt(stored, where=field_ref("feedback", "follow_up_note", feedback_id))


def seal_old_comments(database: Any) -> int:
    """Seal every comment still stored in clear (from before this release), once; returns how many."""
    import sqlalchemy as sa

    from township import db

    f = db.feedback
    with database.write() as conn:
        rows = conn.execute(
            sa.select(f.c.id, f.c.comment).where(
                f.c.comment.is_not(None), sa.not_(f.c.comment.startswith(SEALED_PREFIX))
            )
        ).all()
        for row in rows:
            conn.execute(
                sa.update(f).where(f.c.id == row.id).values(comment=seal_comment(conn, row.id, row.comment))
            )
    return len(rows)
