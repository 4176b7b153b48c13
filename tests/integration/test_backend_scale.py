"""The backend as several processes on one database (issue 15, "Scale out")."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.integration.conftest import _fresh_pg_database

_MIGRATE = """
import pathlib, sys, time
from township.db import migrate
pathlib.Path(sys.argv[2] + "." + sys.argv[3]).touch()
while not pathlib.Path(sys.argv[2]).exists():
    time.sleep(0.001)
migrate(sys.argv[1])
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_processes_starting_at_once_migrate_a_new_database(tmp_path: Path, kind: str) -> None:
    """Four `serve` processes started together on a new database: each migrates at start; none may fail with
    `database is locked` or `table already exists`, and the schema ends at head once."""
    for round_ in range(3):
        drop = None
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path / f'township-{round_}.db'}"
        else:
            url, drop = _fresh_pg_database()
        go = tmp_path / f"go-{round_}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _MIGRATE, url, str(go), str(i)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(4)
        ]
        deadline = time.monotonic() + 60
        while not all(
            (tmp_path / f"go-{round_}.{i}").exists() for i in range(4)
        ):  # all imported, all waiting
            assert time.monotonic() < deadline, "the processes did not start"
            time.sleep(0.01)
        go.touch()
        for proc in procs:
            _out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-2000:]
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
            assert len(versions) == 1
            assert conn.execute(sa.text("SELECT count(*) FROM townships")).scalar() == 0
        engine.dispose()
        if drop is not None:
            drop()
