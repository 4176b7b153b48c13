"""A bare virtual X screen (Xvfb, no window manager, as in the kiosk session) and the real kiosk started on it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def virtual_screen(size: str = "1920x1080", *, noreset: bool = False) -> Iterator[str]:
    """Xvfb on a free display number (it picks one and says which); yields the DISPLAY value. `noreset` as
    kiosk-login starts X.Org: the server then keeps its settings when its last client disconnects."""
    read, write = os.pipe()
    proc = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write),
            *(["-noreset"] if noreset else []),
            "-nolisten",
            "tcp",
            "-screen",
            "0",
            f"{size}x24",
        ],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as fh:
        display = ":" + fh.readline().strip()
    try:
        yield display
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def kiosk_env(display: str, home: Path) -> dict[str, str]:
    """The environment of a Qt program on `display` (xcb, in Chinese, data under `home`), none of ours inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "CUNZHAN_"))}
    env.update(
        {
            "DISPLAY": display,
            "QT_QPA_PLATFORM": "xcb",
            "CUNZHAN_HOME": str(home),
            "CUNZHAN_LOCALE": "zh_CN",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def start_kiosk(
    display: str, home: Path, log: IO[str], *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`python -m kiosk run ARGS` on `display` (in `env`, default `kiosk_env`), as its own process group (stop it
    with os.killpg)."""
    return subprocess.Popen(
        [sys.executable, "-m", "kiosk", "run", *args],
        env=env if env is not None else kiosk_env(display, home),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
