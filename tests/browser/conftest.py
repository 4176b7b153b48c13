"""Browser fixtures: Debian's headless Chromium (never a downloaded browser) driven by Playwright, and a real
township backend (uvicorn on 127.0.0.1) on SQLite or PostgreSQL with staff made by the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.console_client import STAFF_PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]


def create_staff_cli(db_url: str, username: str, role: str, password: str = STAFF_PASSWORD) -> None:
    """`python -m township create-staff`, the way an operator makes an account (password on stdin)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "township",
            "create-staff",
            "--db",
            db_url,
            "--township",
            "demo",
            "--username",
            username,
            "--role",
            role,
        ],
        input=password + "\n",
        text=True,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout + done.stderr


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def console_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A backend with the demo township and two staff accounts (admin `guanli`, reviewer `shenhe`)."""
    from tests.integration.conftest import start_server

    server = start_server(str(request.param), tmp_path_factory.mktemp("township"))
    create_staff_cli(server.db_url, "guanli", "admin")
    create_staff_cli(server.db_url, "shenhe", "reviewer")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the module."""
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is missing: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: `$CUNZHAN_SCREENSHOTS/console` when set (to look at them), else a temporary folder."""
    base = os.environ.get("CUNZHAN_SCREENSHOTS")
    folder = Path(base) / "console" if base else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
