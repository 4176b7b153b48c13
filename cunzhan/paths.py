"""Where the kiosk keeps its files: one data directory, `$CUNZHAN_HOME/kiosk/` or the platform's data directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

APP_NAME = "cunzhan"


def app_dir(part: str) -> Path:
    """Return (and create) `$CUNZHAN_HOME/<part>/`, else the platform's user data directory + `/<part>`.
    The kiosk keeps its files under `kiosk`, the township backend under `township`."""
    home = os.environ.get("CUNZHAN_HOME")
    if home:
        path = Path(home) / part
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / part
    return secure_dir(path)


def secure_dir(path: Path) -> Path:
    """Create `path` (and parents) and make it 0700: only the program's own user may list or open what is in it.

    A shared directory (sticky bit, as /tmp or /dev/shm) is left as it is: closing it to others would break every
    other program that uses it, and what we put there is 0600 on its own (`secure_sqlite_file`)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.name == "posix" and not path.stat().st_mode & stat.S_ISVTX:
        path.chmod(0o700)
    return path


def secure_sqlite_file(path: Path, *, folder: bool = True) -> None:
    """A SQLite database file and its WAL/SHM files 0600 (created empty when missing), in a 0700 directory when
    `folder` (the caller may own only the file, as practice mode in /dev/shm does).

    SQLite gives the -wal and -shm files it creates the database file's permissions, so creating the file 0600 first
    is enough for new databases; existing files (from before this rule) are tightened here at every start."""
    if folder:
        secure_dir(path.parent)
    if os.name != "posix":
        return
    # Never open (and close) an existing database file here: closing any descriptor of a file drops every POSIX
    # lock this process holds on it, and SQLite's locks are such locks (another connection would then think it is
    # alone, and checkpoint and delete the WAL under us). Only a missing file is created.
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(fd)
    for extra in (
        path,
        path.with_name(path.name + "-wal"),
        path.with_name(path.name + "-shm"),
        path.with_name(path.name + "-journal"),
    ):
        if extra.exists():
            extra.chmod(0o600)


def private_file(path: Path) -> int:
    """Open `path` for writing, created 0600 (truncated if it exists): a file descriptor."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if os.name == "posix":
        os.fchmod(fd, 0o600)
    return fd


def data_dir() -> Path:
    """Return (and create) the directory every file the kiosk writes lives under."""
    return app_dir("kiosk")


def database_path() -> Path:
    """The kiosk's SQLite file."""
    return data_dir() / "kiosk.db"


def assets_dir() -> Path:
    """Read-only assets shipped with the application (translations, grammars, demo data, sounds)."""
    override = os.environ.get("CUNZHAN_ASSETS")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "assets"
