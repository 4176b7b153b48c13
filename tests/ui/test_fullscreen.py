"""`python -m kiosk run --fullscreen` fills the screen on an X server with no window manager (the kiosk session), as
the real program, on a virtual 1920×1080 screen; a screenshot of the whole screen is kept for looking at."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.xserver import kiosk_env, start_kiosk, virtual_screen

ROOT = Path(__file__).resolve().parents[2]
GRAB = """
import sys
from PySide6.QtGui import QGuiApplication
app = QGuiApplication([])
screen = app.primaryScreen()
image = screen.grabWindow(0).toImage()
image.save(sys.argv[1])
g = screen.geometry()
print(g.width(), g.height())
"""


@pytest.fixture
def bare_x() -> Iterator[str]:
    """A virtual 1920×1080 X screen and nothing else: no window manager, as in the kiosk session."""
    with virtual_screen("1920x1080") as display:
        yield display


def kiosk_windows(display: str) -> list[tuple[int, int, int, int]]:
    """(width, height, x, y) of the kiosk windows on home (named by its title) that are mapped, as X sees them."""
    tree = subprocess.run(
        ["xwininfo", "-display", display, "-root", "-children"], capture_output=True, text=True, check=True
    ).stdout
    found = []
    for line in tree.splitlines():
        match = re.search(r'"您好.*?".*?(\d+)x(\d+)\+(-?\d+)\+(-?\d+)', line)
        if match:
            window_id = line.split()[0]
            info = subprocess.run(
                ["xwininfo", "-display", display, "-id", window_id],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            if "IsViewable" in info:
                found.append(tuple(int(v) for v in match.groups()))
    return found  # type: ignore[return-value]


def test_fullscreen_fills_a_screen_without_window_manager(bare_x: str, tmp_path: Path) -> None:
    log = (tmp_path / "kiosk.log").open("w")
    kiosk = start_kiosk(bare_x, tmp_path / "home", log, "--fullscreen", "--demo")
    try:
        deadline = time.monotonic() + 90
        windows: list[tuple[int, int, int, int]] = []
        while time.monotonic() < deadline and kiosk.poll() is None:
            windows = kiosk_windows(bare_x)
            if windows and windows[0] == (1920, 1080, 0, 0):
                break
            time.sleep(0.3)
        assert kiosk.poll() is None, (tmp_path / "kiosk.log").read_text()[-3000:]
        assert windows == [(1920, 1080, 0, 0)], windows  # the whole screen, not its own size in a corner
        from PySide6.QtGui import QImage

        shot = tmp_path / "fullscreen-no-wm.png"
        black = 1.0
        while (
            time.monotonic() < deadline + 30 and black > 0.5
        ):  # until home is painted (a busy machine is slow)
            grab = subprocess.run(
                [sys.executable, "-c", GRAB, str(shot)],
                env=kiosk_env(bare_x, tmp_path / "home"),
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            )
            assert grab.stdout.split() == ["1920", "1080"]
            image = QImage(str(shot))
            # The bottom-right quarter is the kiosk's page and bar, not the bare X root (all black).
            points = [(x, y) for x in range(960, 1920, 40) for y in range(540, 1080, 40)]
            black = sum(image.pixelColor(x, y).rgb() & 0xFFFFFF == 0 for x, y in points) / len(points)
        assert black < 0.5, f"{black:.0%} of the bottom-right quarter is bare X root"
        keep = os.environ.get("CUNZHAN_KEEP_SCREENSHOT")
        if keep:
            image.save(keep)
    finally:
        os.killpg(kiosk.pid, signal.SIGTERM)
        kiosk.wait(timeout=30)
        log.close()


def test_without_a_keyring_the_resident_is_told_on_screen_and_aloud(bare_x: str, tmp_path: Path) -> None:
    # No session bus, so no Secret Service: home is shown, then the key cannot be read. The resident (a blind one
    # too) must hear and see that the kiosk cannot be used, not a greeting followed by silence.
    log = (tmp_path / "kiosk.log").open("w")
    speech_log = tmp_path / "speech.jsonl"
    env = kiosk_env(bare_x, tmp_path / "home")
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    env.update(CUNZHAN_SPEECH_LOG=str(speech_log), CUNZHAN_AUDIO_SINK=str(tmp_path / "sink"))
    kiosk = start_kiosk(bare_x, tmp_path / "home", log, "--fullscreen", "--demo", env=env)
    try:
        deadline = time.monotonic() + 90
        said = ""
        while time.monotonic() < deadline and kiosk.poll() is None and "gong1 zuo4 ren2 yuan2" not in said:
            said = speech_log.read_text(encoding="utf-8") if speech_log.exists() else ""
            time.sleep(0.3)
        assert "qing3 zhao3 gong1 zuo4 ren2 yuan2" in said, (tmp_path / "kiosk.log").read_text()[-3000:]
        tree = subprocess.run(
            ["xwininfo", "-display", bare_x, "-root", "-children"], capture_output=True, text=True, check=True
        ).stdout
        assert re.search(r'"Cunzhan".*?1920x1080\+0\+0', tree), tree  # the message fills the screen
    finally:
        os.killpg(kiosk.pid, signal.SIGTERM)
        kiosk.wait(timeout=30)
        log.close()
