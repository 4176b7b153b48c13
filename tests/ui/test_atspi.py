"""The real kiosk window as a screen reader (Orca) sees it through AT-SPI, under Xvfb with the AT-SPI bus: the window's
name follows the screen's title, activating a control moves focus to the new screen's first control, an error is an
alert, and a choice's name is not repeated as its description. Read with jeepney (pure-Python D-Bus). Also: Qt's AT-SPI
bridge is on when the kiosk turns screen-reader support on, and off otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection

from tests.xserver import start_kiosk, virtual_screen

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = "/usr/libexec/at-spi-bus-launcher"
ROLE_ALERT = 2  # ATSPI_ROLE_ALERT
STATE_FOCUSED = 12


@pytest.fixture
def a11y_bus() -> Iterator[str]:
    """The AT-SPI bus of this test's private D-Bus session (tools/with-services.sh starts the session)."""
    assert Path(LAUNCHER).exists() and shutil.which("Xvfb"), "install at-spi2-core and xvfb"
    assert os.environ.get("DBUS_SESSION_BUS_ADDRESS"), (
        "run under tools/with-services.sh (a private D-Bus session)"
    )
    launcher = subprocess.Popen(
        [LAUNCHER, "--launch-immediately"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        session = open_dbus_connection(bus="SESSION")
        address = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not address.startswith("unix:"):
            try:
                reply = session.send_and_get_reply(
                    new_method_call(
                        DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Bus"),
                        "GetAddress",
                    )
                )
                address = str(reply.body[0]) if reply.body else ""
            except Exception:
                time.sleep(0.1)
        session.close()
        assert address.startswith("unix:"), "the AT-SPI bus launcher never answered"
        yield address
    finally:
        launcher.terminate()
        launcher.wait(10)


@pytest.fixture
def bare_x() -> Iterator[str]:
    with virtual_screen("1920x1080") as display:
        yield display


# Kept beside the kiosk's AT-SPI test: both need the session's one accessibility bus, so they run one after the
# other (a test file is one xdist worker's), never at once.
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


def test_screen_reader_support_turns_on_qt_at_spi_bridge(a11y_bus: str, tmp_path: Path) -> None:
    # Qt looks for the accessibility bus once, at start-up: a11y_bus has waited until the launcher answers.
    assert shutil.which("xvfb-run"), "install xvfb"
    env = {k: v for k, v in os.environ.items() if k != "QT_LINUX_ACCESSIBILITY_ALWAYS_ON"}
    env["QT_QPA_PLATFORM"] = "xcb"
    env["PYTHONPATH"] = str(ROOT)
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    results = {}
    for mode in ("on", "off"):
        out = subprocess.run(
            ["xvfb-run", "-a", sys.executable, str(script), mode],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        results[mode] = out.stdout.strip().splitlines()[-1]
    assert results["on"] == "True 预约办事 Button"
    assert results["off"] == "False 预约办事 Button"


class Node:
    """One accessible object on the AT-SPI bus."""

    def __init__(self, conn: DBusConnection, name: str, path: str) -> None:
        self.conn, self.bus_name, self.path = conn, name, path

    def _call(
        self, interface: str, method: str, signature: str | None = None, body: tuple[Any, ...] = ()
    ) -> Any:
        address = DBusAddress(self.path, bus_name=self.bus_name, interface=interface)
        msg = (
            new_method_call(address, method, signature, body)
            if signature
            else new_method_call(address, method)
        )
        return self.conn.send_and_get_reply(msg, timeout=10).body

    def prop(self, name: str) -> Any:
        return self._call(
            "org.freedesktop.DBus.Properties", "Get", "ss", ("org.a11y.atspi.Accessible", name)
        )[0][1]

    @property
    def name(self) -> str:
        return str(self.prop("Name"))

    @property
    def description(self) -> str:
        return str(self.prop("Description"))

    @property
    def role(self) -> int:
        return int(self._call("org.a11y.atspi.Accessible", "GetRole")[0])

    def focused(self) -> bool:
        low = self._call("org.a11y.atspi.Accessible", "GetState")[0][0]
        return bool(low & (1 << STATE_FOCUSED))

    def children(self) -> list[Node]:
        return [Node(self.conn, n, p) for n, p in self._call("org.a11y.atspi.Accessible", "GetChildren")[0]]

    def walk(self, depth: int = 12) -> Iterator[Node]:
        yield self
        if depth:
            for child in self.children():
                yield from child.walk(depth - 1)

    def act(self) -> None:
        self._call("org.a11y.atspi.Action", "DoAction", "i", (0,))


def kiosk_frame(conn: DBusConnection, title: str, timeout: float = 60) -> Node:
    registry = Node(conn, "org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root")
    deadline = time.monotonic() + timeout
    seen: list[object] = []
    while time.monotonic() < deadline:
        seen = []
        for app in registry.children():
            try:
                seen.append((app.name, [(c.role, c.name) for c in app.children()]))
            except Exception as exc:
                seen.append(repr(exc))
            try:
                for child in app.children():
                    if child.name == title:
                        return child
            except Exception:
                continue
        time.sleep(0.2)
    raise AssertionError(f"no window named {title!r} on the AT-SPI bus: {seen}")


def wait_for(check: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    return check()


def test_orca_sees_titles_focus_alerts_and_names_once(a11y_bus: str, bare_x: str, tmp_path: Path) -> None:
    log = (tmp_path / "kiosk.log").open("w")
    kiosk = start_kiosk(bare_x, tmp_path / "home", log, "--demo", "--fullscreen")
    conn = open_dbus_connection(bus=a11y_bus)
    try:
        frame = kiosk_frame(conn, "您好！您要办什么事？")
        check_in = next(n for n in frame.walk() if n.name.startswith("签到"))
        assert check_in.description == ""  # 我来赴约了 is in the name, not said again as a description
        check_in.act()
        assert wait_for(lambda: frame.name == "签到"), frame.name  # the window is named by the screen
        first = wait_for(lambda: next((n for n in frame.walk() if n.focused() and n.name), None))
        states = [(n.name, hex(n._call("org.a11y.atspi.Accessible", "GetState")[0][0])) for n in frame.walk()]
        assert first is not None and first.name.startswith("用预约号"), (
            f"focus is not on the first choice: {states}"
        )
        first.act()
        assert wait_for(lambda: frame.name == "您的预约号")
        by_name = {n.name: n for n in frame.walk()}
        for key in "1234567":
            by_name[key].act()
        time.sleep(0.5)
        # the choices are drawn afresh after each key: find 签到 again; a number that does not exist is an error
        next(n for n in frame.walk() if n.name == "签到").act()
        alert = wait_for(lambda: next((n for n in frame.walk() if n.role == ROLE_ALERT), None))
        assert alert is not None and "没有找到" in alert.name
    finally:
        conn.close()
        kiosk.terminate()
        kiosk.wait(timeout=30)
        log.close()
