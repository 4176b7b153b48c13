"""Kiosk start-up against the Qt floor, both measured here in subprocesses (median of several runs):

- `qt_floor_s`: a Python process that opens an empty PySide6 window and quits once the event loop runs;
- `kiosk_startup_s`: `python -m kiosk run --quit-after-ready` on a store holding the demo catalogue (home shown and
  accepting input, then exit);
- `kiosk_startup_ratio`: the second over the first (target ≤ 1.5).
Both run with the same environment and a warm bytecode cache (see `main`); RUNS runs each, interleaved.
Needs the keyring (run under tools/with-services.sh).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
EMPTY_WINDOW = (
    "from PySide6.QtCore import QTimer\n"
    "from PySide6.QtWidgets import QApplication, QWidget\n"
    "app = QApplication([])\n"
    "w = QWidget()\n"
    "w.resize(1280, 800)\n"
    "w.show()\n"
    "QTimer.singleShot(0, app.quit)\n"
    "app.exec()\n"
)


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, check=False, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:])} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return elapsed


def main() -> None:
    home = tempfile.mkdtemp(prefix="cunzhan-bench-startup-")
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"), CUNZHAN_HOME=home)
    # Both programs run with compiled bytecode, as an installed kiosk does (pip compiles it; Python caches it on first
    # import). A development shell may set PYTHONDONTWRITEBYTECODE, which would make every run compile the kiosk's
    # own modules from source while PySide6 keeps its installed bytecode: an unequal comparison. The cache goes to a
    # temporary folder (PYTHONPYCACHEPREFIX, same for both programs), so the working tree stays clean.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(home, "pycache")
    kiosk = [sys.executable, "-m", "kiosk", "run", "--demo", "--quit-after-ready"]
    timed(kiosk, env)  # first run creates the store and loads the demo catalogue: not what is measured
    timed(kiosk, env)  # and the first runs of each program fill the bytecode cache
    timed([sys.executable, "-c", EMPTY_WINDOW], env)
    floor, startup = [], []
    for _ in range(RUNS):  # interleaved, so both see the same machine load
        floor.append(timed([sys.executable, "-c", EMPTY_WINDOW], env))
        startup.append(timed(kiosk, env))
    qt_floor = statistics.median(floor)
    kiosk_s = statistics.median(startup)
    print(f"qt_floor_s: {qt_floor:.3f} s")
    print(f"kiosk_startup_s: {kiosk_s:.3f} s")
    print(f"kiosk_startup_ratio: {kiosk_s / qt_floor:.2f} x")


if __name__ == "__main__":
    main()
