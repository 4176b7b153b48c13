"""Secrets the township backend keeps outside its database, so that a copy of the database (a backup, a stolen disk
image, a readable file) gives no way to sign in to the console.

- The console's cookie signing key: `CUNZHAN_CONSOLE_SECRET` when set (containers pass it in the environment; it
  wins over the file), else the file `console.key` (0600, 64 hex digits, made on first start) in the folder beside
  the SQLite database, or in the backend's data directory (`township.db.data_dir()`, 0700) for PostgreSQL.

Several backend processes share one file: it is created with O_EXCL, so the first writes it and the others read it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from kiosk.paths import secure_dir

CONSOLE_SECRET_ENV = "CUNZHAN_CONSOLE_SECRET"
CONSOLE_KEY_FILE = "console.key"


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
