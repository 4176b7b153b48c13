"""Backups of the township database: `python -m township backup --out FILE` and `restore --from FILE`.

- SQLite: SQLite's online backup (a consistent copy while the backend keeps serving), written 0600.
- PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --if-exists --no-owner` (Debian's
  postgresql-client).

Residents' ID numbers, names and phones are encrypted in the database, so they stay encrypted in the backup; the keys
(`data.key`, `console.key`: `township.keys`) are not in it. Keep a copy of `data.key` apart from the backups: a
backup restored without it keeps its bookings, sessions and reports, but not the residents' details. The drill is in
docs/install.md.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from cunzhan.paths import private_file, secure_sqlite_file


class BackupError(Exception):
    """A backup or restore could not be made; the message says why (no personal data in it)."""


def _sqlite_path(url: str) -> Path:
    path = url.split("///", 1)[1] if "///" in url else ""
    if not path or path == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(path)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The SQLAlchemy URL as libpq (pg_dump, pg_restore) reads it, and their environment: the password goes in
    PGPASSWORD, never on the command line (where any user could read it in the process list)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def backup(url: str, out: Path) -> None:
    """Write a backup of the database at `url` to `out` (0600, replaced if it exists)."""
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    if url.startswith("sqlite"):
        source = _sqlite_path(url)
        if not source.exists():
            raise BackupError(f"there is no database at {source}")
        os.close(private_file(partial))
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    else:
        os.close(private_file(partial))
        target, env = _libpq(url)
        done = subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", "--file", str(partial), "--dbname", target],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            raise BackupError("pg_dump failed: " + done.stderr.strip()[-500:])
    partial.replace(out)


def restore(url: str, source: Path) -> None:
    """Replace the database at `url` with the backup in `source` (the backend must not be running on it)."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"there is no backup at {source}")
    if url.startswith("sqlite"):
        target = _sqlite_path(url)
        try:
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError:
            raise BackupError(f"{source} is not a SQLite backup") from None
        for extra in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
            extra.unlink(missing_ok=True)
        secure_sqlite_file(target)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        return
    dbname, env = _libpq(url)
    done = subprocess.run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--exit-on-error",
            "--dbname",
            dbname,
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        raise BackupError("pg_restore failed: " + done.stderr.strip()[-500:])
