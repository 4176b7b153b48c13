"""Sending residents' SMS from the outbox (issue 16): how fast queued notifications reach the provider, through the
HTTP gateway client and through Tencent Cloud's SDK, against the stand-in provider on 127.0.0.1 (tests/sms_standin.py,
which checks signatures as the real ones do), on SQLite.

    tools/with-services.sh .venv/bin/python bench/bench_notify.py

Prints `notify_send_per_s` (outbox → HTTP gateway), `notify_send_per_s_tencent` (outbox → the SDK), and
`notify_outbox_overhead_ratio`: the time the outbox path takes per message over the time the same client takes to
post the same messages with no database at all (the baseline, measured in the same run).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MESSAGES = 400


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CUNZHAN_HOME"] = tmp
        import sqlalchemy as sa

        from cunzhan import protocol as P
        from tests.integration.conftest import valid_id_number
        from tests.sms_standin import StandIn
        from township import booking as B
        from township import db, services, sync
        from township.app import create_app
        from township.notify import outbox
        from township.notify.messages import Kind
        from township.notify.providers import HttpGateway, HttpGatewayConfig
        from township.notify.service import run_once, save_settings

        standin = StandIn(templates={"3001": 3}).start()
        app = create_app(f"sqlite:///{tmp}/bench.db", demo=True)
        database: db.Database = app.state.db
        code = services.create_enrollment_code(database, "demo")
        enrolled = sync.enroll(
            database, P.EnrollRequest(enrollment_code=code, kiosk_name="b", app_version="b")
        )
        device = sync.authenticate(database, "Bearer " + enrolled["device_token"])
        with database.read() as conn:
            session = (
                conn.execute(
                    sa.select(db.sessions.c.id).where(db.sessions.c.starts_at > db.naive(db.now_utc()))
                )
                .scalars()
                .first()
            )
        ops = []
        for n in range(20):
            ops.append(
                {
                    "op_id": str(uuid.uuid4()),
                    "device_seq": n + 1,
                    "entity": "booking",
                    "entity_id": str(uuid.uuid4()),
                    "kind": "create",
                    "base_version": None,
                    "payload": {
                        "session_id": session,
                        "code": f"{n:09d}",
                        "resident": {
                            "id": str(uuid.uuid4()),
                            "name": "测试",
                            "id_number": valid_id_number(n),
                            "phone": f"139{n:08d}",
                            "village": "上坪村",
                        },
                        "for_dependent": None,
                        "channel": "self",
                        "staff_id": None,
                        "lease": False,
                        "waitlist": True,
                    },
                    "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                }
            )
        results = sync.push(database, device, {"device_id": device.id, "ops": ops})
        booking_ids = [
            r["booking"]["id"] for r in results if r.get("booking") and r["booking"]["status"] == "confirmed"
        ]
        assert booking_ids, results

        def fill(kind_tag: str) -> None:
            with database.write() as conn:
                rows = [B.get_booking(conn, b) for b in booking_ids]
                for i in range(MESSAGES):
                    outbox.queue(conn, rows[i % len(rows)], Kind.CONFIRMED, occasion=f"{kind_tag}{i}")

        def drain() -> float:
            started = time.perf_counter()
            sent = 0
            while sent < MESSAGES:
                got = run_once(database)["sent"]
                assert got, "nothing sent"
                sent += got
            return time.perf_counter() - started

        tid = services.township_id(database, "demo")
        with database.write() as conn:
            save_settings(
                conn,
                tid,
                provider="http",
                config={"url": f"http://{standin.endpoint}/gateway"},
                secret={"secret": standin.gateway_secret},
                quiet_from="00:00",
                quiet_until="00:00",
            )
        fill("h")
        gateway_s = drain()
        print(f"notify_send_per_s: {MESSAGES / gateway_s:.0f} 1/s")

        # Baseline: the same client posting the same number of messages, no outbox.
        client = HttpGateway(HttpGatewayConfig(f"http://{standin.endpoint}/gateway", standin.gateway_secret))
        started = time.perf_counter()
        for i in range(MESSAGES):
            client.send(
                notification_id=f"base-{i}", phone="13900000000", kind=Kind.CONFIRMED, params={}, text="x"
            )
        baseline_s = time.perf_counter() - started
        print(f"notify_outbox_overhead_ratio: {gateway_s / baseline_s:.2f} x")

        with database.write() as conn:
            save_settings(
                conn,
                tid,
                provider="tencent",
                config={
                    "sdk_app_id": standin.sdk_app_id,
                    "sign_name": standin.sign_name,
                    "endpoint": standin.endpoint,
                    "scheme": "http",
                    "template_ids": {"confirmed": "3001"},
                },
                secret={"secret_id": standin.secret_id, "secret_key": standin.secret_key},
                quiet_from="00:00",
                quiet_until="00:00",
            )
        fill("t")
        tencent_s = drain()
        assert len(standin.delivered) == 2 * MESSAGES + MESSAGES, len(standin.delivered)
        print(f"notify_send_per_s_tencent: {MESSAGES / tencent_s:.0f} 1/s")
        standin.stop()
        database.dispose()


if __name__ == "__main__":
    main()
