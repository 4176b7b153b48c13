"""`python -m township backup` and `restore` (the real command line) on SQLite and PostgreSQL: a backup is 0600 and
keeps residents' fields encrypted; restored into a fresh database beside a copy of the data key, a new backend
serves the same kiosk, which keeps syncing (its token and cursor still work) and booking."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration.conftest import _fresh_pg_database, create_op, unique_id_number
from township import db


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "township", *args],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
        timeout=120,
    )


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_backup_restored_into_a_fresh_server_keeps_a_kiosk_syncing(
    kind: str, start_backend: Any, tmp_path: Path
) -> None:
    first = start_backend(kind)
    kiosk = first.enroll("备份")
    session_id = first.new_session(capacity=5)
    number = unique_id_number()
    made = kiosk.push_ok([create_op(session_id, device_seq=kiosk.next_seq(), id_number=number)])[0]
    assert made["outcome"] == "applied"
    kiosk.pull_all()
    out = tmp_path / "township.backup"
    saved = _cli("backup", "--db", first.db_url, "--out", str(out))
    assert saved.returncode == 0, saved.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert number.encode() not in out.read_bytes() and "测试居民".encode() not in out.read_bytes()
    first.stop()

    drop = None
    if kind == "sqlite":
        fresh = f"sqlite:///{tmp_path / 'restored' / 'township.db'}"
        (tmp_path / "restored").mkdir()
        old_folder = Path(first.db_url.split("///", 1)[1]).parent
        shutil.copy2(old_folder / "data.key", tmp_path / "restored" / "data.key")  # the drill: the key, apart
    else:
        fresh, drop = _fresh_pg_database()
    try:
        back = _cli("restore", "--db", fresh, "--from", str(out))
        assert back.returncode == 0, back.stderr
        second = start_backend(kind, demo=False, db_url=fresh)
        kiosk.backend = second
        assert kiosk.pull(kiosk.cursor).status_code == 200  # the same token and cursor
        again = kiosk.push_ok([create_op(session_id, device_seq=kiosk.next_seq())])[0]
        assert again["outcome"] == "applied"
        from township.console import queries

        with second.database.read() as conn:
            tid = conn.execute(sa.select(db.townships.c.id).where(db.townships.c.slug == "demo")).scalar_one()
            shown = queries.reveal_numbers(conn, tid, made["booking"]["id"])
        assert shown is not None and shown["id_number"] == number  # decrypted with the copied key
        second.stop()
    finally:
        if drop is not None:
            drop()


def test_a_missing_or_foreign_backup_is_refused_plainly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'township.db'}"
    missing = _cli("restore", "--db", url, "--from", str(tmp_path / "nothing"))
    assert missing.returncode == 1 and "there is no backup" in missing.stderr
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a database at all" * 100)
    foreign = _cli("restore", "--db", url, "--from", str(junk))
    assert foreign.returncode == 1 and "not a SQLite backup" in foreign.stderr
    nothing = _cli("backup", "--db", f"sqlite:///{tmp_path / 'none.db'}", "--out", str(tmp_path / "x"))
    assert nothing.returncode == 1 and "there is no database" in nothing.stderr
