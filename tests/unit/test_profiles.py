"""Profiles (ACCESSIBILITY.md numbers, combination, mm → px) and screen-reader enablement through real Qt + AT-SPI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kiosk.accessibility.profiles import (
    BLIND,
    ELDER,
    HEARING,
    PROFILES,
    REFERENCE_DPI,
    STANDARD,
    Speech,
    mm,
    profile,
    px,
)


def test_the_table_of_accessibility_md() -> None:
    rows = {name: (p.text_mm, p.target_mm, p.contrast, p.idle_s, p.max_choices) for name, p in PROFILES.items()}
    assert rows == {
        "standard": (6, 12, 4.5, 60, 6),
        "elder": (9, 16, 7.0, 180, 4),
        "low_vision": (12, 16, 7.0, 180, 4),
        "blind": (12, 16, 7.0, 300, 4),
        "hearing": (6, 12, 4.5, 90, 6),
        "motor": (9, 20, 7.0, 300, 4),
    }
    assert ELDER.speech_rate == 0.8 and ELDER.speaks
    assert not STANDARD.speaks and not HEARING.speaks and HEARING.captions
    assert BLIND.numbered_choices and BLIND.keypad_driven and BLIND.listen_between_prompts
    assert PROFILES["motor"].target_gap_mm >= 4


def test_combining_takes_the_stricter_row() -> None:
    both = profile("elder+hearing")
    assert both.name == "elder+hearing"
    assert both.text_mm == 9 and both.target_mm == 16 and both.contrast == 7.0
    assert both.captions and both.speaks and both.speech is Speech.EVERY_SCREEN
    assert both.speech_rate == 0.8 and both.idle_s == 180 and both.max_choices == 4
    assert profile("hearing+elder") == both
    assert profile("blind+motor").target_mm == 20 and profile("blind+motor").numbered_choices
    assert profile("") == STANDARD
    with pytest.raises(KeyError):
        profile("elder+nonsense")


def test_millimetres_to_pixels_on_the_reference_panel() -> None:
    assert px(16, REFERENCE_DPI) == 65  # 16 mm / 0.248 mm per px = 64.5 → never below the minimum
    assert px(12, REFERENCE_DPI) == 49
    assert mm(px(9, 96), 96) >= 9
    assert px(16, 2 * REFERENCE_DPI) == 130


CHILD = textwrap.dedent("""
    import sys
    if sys.argv[1] == "on":
        from kiosk.accessibility.screen_reader import enable_screen_reader_support
        assert enable_screen_reader_support()
    from PySide6.QtWidgets import QApplication, QPushButton
    from PySide6.QtGui import QAccessible
    from kiosk.accessibility.screen_reader import enable_screen_reader_support, screen_reader_enabled
    app = QApplication([])
    assert not enable_screen_reader_support()  # too late once the application exists
    button = QPushButton("预约")
    button.setAccessibleName("预约办事")
    button.show()
    app.processEvents()
    iface = QAccessible.queryAccessibleInterface(button)
    print(screen_reader_enabled(), iface.text(QAccessible.Text.Name), iface.role().name)
""")


def test_screen_reader_support_turns_on_qt_at_spi_bridge(tmp_path: Path) -> None:
    launcher = "/usr/libexec/at-spi-bus-launcher"
    assert shutil.which("xvfb-run") and Path(launcher).exists(), "install xvfb and at-spi2-core"
    assert os.environ.get("DBUS_SESSION_BUS_ADDRESS"), "run under tools/with-services.sh (a private D-Bus session)"
    bus = subprocess.Popen([launcher, "--launch-immediately"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        # Qt looks for the accessibility bus once, at start-up: wait until the launcher answers on the session bus.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            probe = subprocess.run(["dbus-send", "--session", "--dest=org.a11y.Bus", "--print-reply",
                                    "/org/a11y/bus", "org.a11y.Bus.GetAddress"], capture_output=True, check=False)
            if probe.returncode == 0 and b"unix:" in probe.stdout:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the AT-SPI bus launcher never answered")
        env = {k: v for k, v in os.environ.items() if k != "QT_LINUX_ACCESSIBILITY_ALWAYS_ON"}
        env["QT_QPA_PLATFORM"] = "xcb"
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
        script = tmp_path / "child.py"
        script.write_text(CHILD, encoding="utf-8")
        results = {}
        for mode in ("on", "off"):
            out = subprocess.run(["xvfb-run", "-a", sys.executable, str(script), mode], env=env,
                                 capture_output=True, text=True, timeout=120, check=True)
            results[mode] = out.stdout.strip().splitlines()[-1]
        assert results["on"] == "True 预约办事 Button"
        assert results["off"] == "False 预约办事 Button"
    finally:
        bus.terminate()
        bus.wait(5)
