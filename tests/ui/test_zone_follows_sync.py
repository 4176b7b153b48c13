"""The open window reads the settings again when a sync changed something: its times follow the township's zone
(#18), without a restart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from kiosk import settings as S


def test_the_window_shows_times_in_the_zone_a_sync_brought(
    make_kiosk: Callable[..., Any], demo_store: Any
) -> None:
    window = make_kiosk()
    moment = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.UTC)
    assert window.ctx.local(moment).hour == 10  # the default, Asia/Shanghai
    demo_store.set_setting(S.TIMEZONE.key, "Asia/Urumqi")  # what the sync engine writes from a pull
    window.sync_changed.emit()  # what the sync worker emits after a sync
    window._on_sync_changed()  # run now (the signal queues it for the event loop's next turn)
    assert window.ctx.local(moment).hour == 8
