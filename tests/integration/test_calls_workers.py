"""The waiting-room call (#16) with `serve --workers 3` on one database: a call made in the console, handled by
whichever worker process, wakes the held `GET /v1/calls` of the kiosk it is for in any other worker, at once, and
reaches no other kiosk."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa

from tests.browser.console_client import STAFF_PASSWORD, ConsoleClient
from tests.integration.conftest import create_op, op, serve_workers
from township import db
from township.services import create_enrollment_code, create_session, create_staff

ZONE = ZoneInfo("Asia/Shanghai")  # the demo township's

KIOSKS = 4


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_console_call_in_one_worker_wakes_the_kiosk_held_in_another(tmp_path: Path, kind: str) -> None:
    with serve_workers(tmp_path, kind) as served:
        base, database = served.base, served.database
        with database.read() as conn:
            service, provider = conn.execute(
                sa.select(db.sessions.c.service_id, db.sessions.c.provider_id).limit(1)
            ).one()
        # At 03:00 in the demo township, 11 days on: no demo session of this provider then, whatever the time of
        # day the test runs (now + 11 days 5 hours overlapped one at 19:47 UTC).
        day = dt.datetime.now(ZONE).date() + dt.timedelta(days=11)
        starts = dt.datetime.combine(day, dt.time(3, 0), ZONE)
        session = create_session(
            database,
            staff_id=None,
            township_slug="demo",
            service_id=service,
            provider_id=provider,
            starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=20),
            capacity=KIOSKS,
        )
        kiosks: list[tuple[dict[str, str], str]] = []  # (headers, booking id), in kiosk-number order
        for n in range(KIOSKS):
            enrolled = requests.post(
                base + "/v1/enroll",
                timeout=60,
                json={
                    "enrollment_code": create_enrollment_code(database, "demo"),
                    "kiosk_name": f"村{n}",
                    "app_version": "test",
                },
            ).json()
            headers = {"Authorization": f"Bearer {enrolled['device_token']}"}
            create = create_op(session, device_seq=1)
            check_in = op("booking", "check_in", create["entity_id"], {"queue_number": 1}, device_seq=2)
            pushed = requests.post(
                base + "/v1/sync/push",
                headers=headers,
                timeout=60,
                json={"device_id": enrolled["device_id"], "ops": [create, check_in]},
            ).json()
            assert [r["outcome"] for r in pushed["results"]] == ["applied", "applied"], pushed
            kiosks.append((headers, create["entity_id"]))
        create_staff(database, "demo", "jiaohao", "reviewer", STAFF_PASSWORD)
        console = ConsoleClient(base)
        assert console.sign_in("jiaohao").status_code == 200
        day = starts.astimezone(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
        assert console.get(f"/console/roster?day={day}").status_code == 200

        got: list[tuple[int, Any, float]] = []

        def hold(index: int, headers: dict[str, str]) -> None:
            response = requests.get(base + "/v1/calls", headers=headers, params={"wait": 20}, timeout=40)
            got.append((index, response.json(), time.monotonic()))

        threads = [threading.Thread(target=hold, args=(i, h)) for i, (h, _b) in enumerate(kiosks)]
        for t in threads:
            t.start()
        time.sleep(1.5)  # every kiosk's request is held now, spread over the workers
        assert got == []
        made: list[float] = []
        for _ in range(KIOSKS):
            made.append(time.monotonic())
            response = console.post(f"/console/roster/sessions/{session}/next", {"day": day})
            assert response.status_code == 200 and "Number 1 called" in response.text, response.text
        for t in threads:
            t.join(30)
        assert len(got) == KIOSKS
        delays = []
        for index, body, at in sorted(got, key=lambda g: g[0]):
            # Kiosk numbers 1…4: the villages take turns, so the n-th call is for the n-th kiosk, and only it.
            assert [c["booking_id"] for c in body["calls"]] == [kiosks[index][1]], (index, body)
            delays.append(at - made[index])
        assert max(delays) < 1.0, delays  # the bell looks every 0.25 s (its fallback re-check is 2 s)
        print(f"call_to_kiosk_s[{kind}] max={max(delays):.3f} all={[round(d, 3) for d in delays]}")
