"""`python -m kiosk demo` (what `make demo` runs): the whole loop on one machine.

1. starts the township backend with the demo township (`python -m township serve --demo`) on a free port, its
   database under `$CUNZHAN_HOME/township/` (`./.demo-home` when CUNZHAN_HOME is not set);
2. makes an enrolment code with `python -m township enrollment-code` and enrols this kiosk with it (once: later runs
   reuse the enrolment, pointing it at the new port);
3. syncs once, so the kiosk shows the township's real schedule;
4. creates a staff login for the web console and prints it with the console's address;
5. opens the kiosk window (`python -m kiosk run`), or, with no display, says so and renders every screen to PNG files
   with `python -m kiosk screenshots`;
6. stops the backend on the way out.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from cunzhan.i18n import N_, gettext

DEMO_STAFF_USER = "demo-admin"
DEMO_STAFF_PASSWORD = "cunzhan-demo-2026"  # a demo township on one machine: printed on purpose
DEMO_KIOSK_NAME = "上坪村便民服务站"


def _say(text: str) -> None:
    print(text, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _has_display() -> bool:
    """A window can be shown: an X11 or Wayland display, and Qt not told to draw offscreen."""
    if os.environ.get("QT_QPA_PLATFORM", "") in {"offscreen", "minimal"}:
        return False
    if sys.platform in {"win32", "darwin"}:
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class _Backend:
    """The township backend as a child process, stopped by `stop()`."""

    def __init__(self, home: Path, port: int, env: dict[str, str]) -> None:
        self.url = f"http://127.0.0.1:{port}"
        log_dir = home / "township"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / "serve.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "township", "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> bool:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if requests.get(self.url + "/v1/health", timeout=2).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.2)
        return False

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(
                self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            )
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


def _township_cli(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "township", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _enrol_and_sync(url: str, env: dict[str, str]) -> bool:
    """Enrol (or re-point an earlier enrolment at `url`) and sync once. False when it could not."""
    from kiosk.store import Store, SyncKey
    from kiosk.sync.client import Forbidden, Unauthorized
    from kiosk.sync.engine import SyncEngine
    from kiosk.sync.enroll import EnrollError, enroll

    store = Store.open()
    try:
        engine = None
        if store.state(SyncKey.DEVICE_ID):
            # Same demo database as last time: keep the enrolment, only the port changed.
            store.set_state(SyncKey.TOWNSHIP_URL, url)
            engine = SyncEngine.from_store(store)
        if engine is not None:
            report = engine.sync_once()
            engine.client.close()
            if isinstance(report.error, (Unauthorized, Forbidden)):
                engine = None  # the demo database was reset: enrol again
            elif report.error is not None:
                _say(gettext(N_("Sync did not finish: {message}")).format(message=report.error.message()))
                return False
            else:
                _say(
                    gettext(N_("Synced with the township: {changes} updates.")).format(changes=report.pulled)
                )
                return True
        made = _township_cli(["enrollment-code", "--township", "demo"], env)
        if made.returncode != 0 or not made.stdout.strip():
            _say(gettext(N_("Could not make an enrolment code:")) + " " + made.stderr.strip()[-500:])
            return False
        code = made.stdout.strip().splitlines()[-1]
        try:
            result = enroll(url, code, DEMO_KIOSK_NAME, store=store)
        except EnrollError as exc:
            _say(exc.message())
            return False
        _say(
            gettext(N_("Kiosk enrolled with the township as kiosk number {number}.")).format(
                number=result.kiosk_number
            )
        )
        engine = SyncEngine.from_store(store)
        if engine is None:
            return False
        report = engine.sync_once()
        engine.client.close()
        if report.error is not None:
            _say(gettext(N_("Sync did not finish: {message}")).format(message=report.error.message()))
            return False
        _say(gettext(N_("Synced with the township: {changes} updates.")).format(changes=report.pulled))
        return True
    finally:
        store.close()


def _staff_login(env: dict[str, str]) -> None:
    made = _township_cli(
        ["create-staff", "--township", "demo", "--username", DEMO_STAFF_USER, "--role", "admin"],
        env,
        stdin=DEMO_STAFF_PASSWORD + "\n",
    )
    if (
        made.returncode != 0
        and "taken" not in (made.stderr + made.stdout).lower()
        and "exists" not in (made.stderr + made.stdout).lower()
        and "已" not in made.stderr
    ):
        _say(gettext(N_("Could not create the staff login:")) + " " + made.stderr.strip()[-300:])


def demo_command(args: argparse.Namespace) -> int:
    """Run the whole loop; returns the kiosk's exit status (0 when all went well)."""
    from cunzhan.i18n import set_default_locale
    from kiosk import settings as s
    from kiosk.crypto import KeyringUnavailable
    from kiosk.store import StoreError

    set_default_locale(str(s.Settings().get(s.LOCALE)))  # zh_CN unless CUNZHAN_LOCALE says otherwise
    home = Path(os.environ.get("CUNZHAN_HOME") or ".demo-home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["CUNZHAN_HOME"] = str(home)
    env = {**os.environ, "CUNZHAN_HOME": str(home)}
    port = int(getattr(args, "port", 0) or 0) or _free_port()
    _say(gettext(N_("Demo data folder: {path}")).format(path=home))
    _say(gettext(N_("Starting the township backend on port {port}…")).format(port=port))
    backend = _Backend(home, port, env)
    try:
        if not backend.wait_ready():
            _say(gettext(N_("The township backend did not start. Its log says:")))
            _say(backend.log_tail())
            return 1
        try:
            synced = _enrol_and_sync(backend.url, env)
        except (StoreError, KeyringUnavailable) as exc:
            _say(exc.message())
            return 1
        if not synced:
            _say(gettext(N_("The kiosk will show its own copy of the demo schedule instead.")))
        _staff_login(env)
        _say("")
        _say(gettext(N_("Township console: {url}")).format(url=backend.url + "/console/"))
        _say(
            gettext(N_("Staff login: {user} / {password} (township: demo)")).format(
                user=DEMO_STAFF_USER, password=DEMO_STAFF_PASSWORD
            )
        )
        _say("")
        if getattr(args, "no_window", False) or not _has_display():
            return _screenshots(home, env, asked=bool(getattr(args, "no_window", False)))
        _say(gettext(N_("Opening the kiosk window. Close it to stop the demo.")))
        return subprocess.run(
            [sys.executable, "-m", "kiosk", "run", "--demo"], env=env, check=False
        ).returncode
    except KeyboardInterrupt:
        return 130
    finally:
        backend.stop()
        _say(gettext(N_("Township backend stopped.")))


def _screenshots(home: Path, env: dict[str, str], *, asked: bool) -> int:
    out = home / "screenshots"
    if asked:
        _say(gettext(N_("Rendering every screen to pictures instead of opening the window…")))
    else:
        _say(
            gettext(
                N_(
                    "There is no display here (no DISPLAY or WAYLAND_DISPLAY), so the kiosk window cannot "
                    "open. Rendering every screen to pictures instead…"
                )
            )
        )
    done = subprocess.run(
        [sys.executable, "-m", "kiosk", "screenshots", "--out", str(out)],
        env={**env, "QT_QPA_PLATFORM": "offscreen"},
        check=False,
    )
    pngs = sorted(out.glob("*.png")) if out.exists() else []
    if done.returncode != 0 or not pngs:
        _say(gettext(N_("The screens could not be rendered.")))
        return 1
    _say(gettext(N_("{count} screen pictures are in {path}")).format(count=len(pngs), path=out))
    if sys.stdin.isatty():
        _say(gettext(N_("The township backend keeps running for the console; press Enter to stop it.")))
        try:
            input()
        except EOFError:
            pass
    return 0
