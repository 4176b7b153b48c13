"""Simulated kiosks for the sync tests: each a real kiosk store (own data directory, own keyring key) driven by the
real sync engine, with an injectable clock that may run days off.

Also runnable as a child process (`python -m tests.integration.sync_kiosks sync DATA_DIR URL BATCH`) so that a test
can SIGKILL a kiosk in the middle of a sync.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import sys
import uuid
from pathlib import Path
from typing import Any

from cunzhan.fieldcrypto import field_ref
from cunzhan.models import Booking, Resident
from kiosk.booking import BookingRefused, Bookings
from kiosk.crypto import store_cipher
from kiosk.store import Store, utc_now
from kiosk.sync import credentials
from kiosk.sync.client import TownshipClient
from kiosk.sync.engine import SyncEngine, SyncReport
from kiosk.sync.enroll import EnrollResult, enroll


def cursor_seq(cursor: str | None) -> int:
    """The backend's seq inside its (otherwise opaque) cursor: tests may look, the kiosk never does."""
    if not cursor:
        return 0
    body = cursor.split(".", 1)[0]
    return int(
        base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().split(":")[2]
    )  # t:d:seq:floor


class KioskSim:
    """One kiosk: its own data directory and store, enrolment, bookings on its own clock, and sync."""

    def __init__(self, root: Path, name: str, *, skew: dt.timedelta = dt.timedelta(0)) -> None:
        self.name = name
        self.data_dir = root / name / "kiosk"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.data_dir / "kiosk.db", store_cipher(str(self.data_dir)))
        self.skew = skew
        self.cursor_seqs: list[int] = []
        self.rng = random.Random(name)

    def clock(self) -> dt.datetime:
        return utc_now() + self.skew

    def enroll(self, url: str, code: str) -> EnrollResult:
        return enroll(url, code, self.name, store=self.store)

    def engine(self, url: str | None = None, *, seed: int = 0, batch_size: int = 200) -> SyncEngine:
        token = credentials.load_token(self.data_dir)
        assert token
        device_id = self.store.state("device_id")
        assert device_id
        client = TownshipClient(url or str(self.store.state("township_url")), token)
        return SyncEngine(
            self.store, client, device_id, clock=self.clock, rng=random.Random(seed), batch_size=batch_size
        )

    def sync_until_ok(self, engine: SyncEngine, *, max_attempts: int = 300) -> list[SyncReport]:
        """Retry at once (the test does not sleep out the backoff) until one attempt succeeds."""
        reports = []
        for _ in range(max_attempts):
            report = engine.sync_once()
            reports.append(report)
            self.cursor_seqs.append(cursor_seq(self.store.state("catalogue_cursor")))
            if report.ok:
                return reports
        raise AssertionError(
            f"{self.name}: no successful sync in {max_attempts} attempts: "
            f"{[r.error.kind for r in reports[-5:] if r.error]}"
        )

    def resident(self, id_number: str) -> Resident:
        return Resident(
            str(uuid.uuid4()), f"居民{self.rng.randrange(1000)}", id_number, "13800138000", "上坪村"
        )

    def book(self, session_id: str, id_number: str, *, waitlist: bool = False) -> Booking | None:
        """Book on this kiosk's clock; None when the kiosk's rules refuse (full, started…)."""
        try:
            return Bookings(self.store).book(
                session_id=session_id, resident=self.resident(id_number), waitlist=waitlist, now=self.clock()
            )
        except BookingRefused:
            return None

    def all_ops(self) -> list[dict[str, Any]]:
        """Every op in the outbox, as it was (and would again be) sent."""
        rows = self.store.query("SELECT * FROM outbox ORDER BY device_seq")
        return [
            {
                "op_id": r["op_id"],
                "device_seq": r["device_seq"],
                "entity": r["entity"],
                "entity_id": r["entity_id"],
                "kind": r["kind"],
                "base_version": r["base_version"],
                "payload": json.loads(
                    self.store.cipher.decrypt(
                        r["payload_enc"], where=field_ref("outbox", "payload_enc", r["op_id"])
                    )
                    or "{}"
                ),
                "created_at": r["created_at"],
                "state": r["state"],
                "result": json.loads(r["result"]) if r["result"] else None,
            }
            for r in rows
        ]

    def close(self) -> None:
        self.store.close()


def _child_sync(data_dir: str, url: str, batch: str) -> int:
    """Child process: open the kiosk store and sync until success (the parent may kill it at any moment)."""
    path = Path(data_dir)
    store = Store(path / "kiosk.db", store_cipher(str(path)))
    token = credentials.load_token(path)
    assert token
    engine = SyncEngine(
        store, TownshipClient(url, token), str(store.state("device_id")), batch_size=int(batch)
    )
    for _ in range(500):
        if engine.sync_once().ok:
            print("synced", flush=True)
            return 0
    return 1


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "sync":
        raise SystemExit(_child_sync(sys.argv[2], sys.argv[3], sys.argv[4]))
    raise SystemExit("usage: python -m tests.integration.sync_kiosks sync DATA_DIR URL BATCH")
