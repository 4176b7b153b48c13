"""`make demo` on a machine without a display or a desktop session: its own keyring (tools/with-keyring.sh), backend,
enrolment, sync, staff login, screen pictures; and the second run finds its key and enrolment again."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("keyring_ready")
def test_demo_loop_headless(tmp_path: Path) -> None:
    home = tmp_path / "demo-home"
    hidden = {
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "QT_QPA_PLATFORM",
        "DBUS_SESSION_BUS_ADDRESS",
    }  # a server, no desktop
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env.update(CUNZHAN_HOME=str(home), CUNZHAN_LOCALE="en")

    def make_demo() -> subprocess.CompletedProcess[str]:  # what `make demo` runs once the venv is set up
        return subprocess.run(
            [str(ROOT / "tools" / "with-keyring.sh"), sys.executable, "-m", "kiosk", "demo"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    done = make_demo()
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-3000:]
    assert f"demo keyring: gnome-keyring on a private session, kept in {home / 'keyring'}" in out
    assert "enrolled with the township as kiosk number 1" in out
    assert re.search(r"Synced with the township: [1-9]\d* updates", out)
    assert re.search(r"Township console: http://127\.0\.0\.1:\d+/console/", out)
    assert "Staff login: demo-admin / " in out
    assert "There is no display here" in out
    pictures = sorted((home / "screenshots").glob("*.png"))
    assert pictures and str(home / "screenshots") in out
    assert "Township backend stopped." in out
    # Again: the keyring kept in the demo folder still holds the store key and the device token.
    again = make_demo()
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    assert (
        "enrolled with the township" not in again.stdout
        and "Synced with the township: 0 updates" in again.stdout
    )
    # The kiosk really is enrolled and holds the township's schedule; the backend's files live under the same home.
    from kiosk.store import Store

    store = Store.open(home / "kiosk" / "kiosk.db")
    try:
        assert store.state("device_id") and store.state("kiosk_number") == "1"
        assert store.query("SELECT count(*) AS n FROM sessions WHERE deleted = 0")[0]["n"] > 0
    finally:
        store.close()
    assert (home / "township").is_dir()
