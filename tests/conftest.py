"""Shared fixtures: a private CUNZHAN_HOME per test, the real keyring, a kiosk store with the demo catalogue.

The suite runs under `tools/with-services.sh` (what `make test` does), which provides gnome-keyring's Secret Service
on a private D-Bus session and a throw-away PostgreSQL server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kiosk.store import Store

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("CUNZHAN_LOCALE", "zh_CN")


@pytest.fixture(scope="session", autouse=True)
def private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A CUNZHAN_HOME for the whole run, so that nothing (a PostgreSQL backend's key file, say) is ever written to
    the real user's data directory; `data_home` replaces it per test."""
    home = tmp_path_factory.mktemp("cunzhan-home")
    old = os.environ.get("CUNZHAN_HOME")
    os.environ["CUNZHAN_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("CUNZHAN_HOME", None)
    else:
        os.environ["CUNZHAN_HOME"] = old


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CUNZHAN_HOME: every file the kiosk writes goes under it."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CUNZHAN_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def keyring_ready() -> None:
    from kiosk.crypto import keyring_status

    ok, detail = keyring_status()
    if not ok:
        pytest.fail(
            f"no real keyring backend ({detail}); run the suite with `make test` "
            "(tools/with-services.sh starts gnome-keyring)",
            pytrace=False,
        )


@pytest.fixture
def store(data_home: Path, keyring_ready: None) -> Iterator[Store]:
    from kiosk.store import Store

    s = Store.open()
    yield s
    s.close()


@pytest.fixture
def demo_store(store: Store) -> Store:
    from kiosk.seed import seed_demo

    seed_demo(store)
    return store
