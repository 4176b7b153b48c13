"""The sync engine: push the outbox, then pull the township's changes (SYNC.md "Kiosk behaviour").

One `sync_once()` is: push every pending op in batches of at most 200 (each batch's results applied in one
transaction), then pull pages until `has_more` is false (each page and its `next_cursor` in one transaction).

Choices where SYNC.md is silent (documented in docs/sync.md):
- Nothing is ordered by the kiosk clock. The clock (injectable, for tests with clocks days off) is used only for
  `last_attempt_at` / `last_success_at` (shown to staff next to the kiosk's own "now") and to measure the skew.
- Lease expiry times are stored shifted into the kiosk's clock frame (`expires_at - skew`) when the skew is larger
  than 30 s, so that the booking rules, which compare with the kiosk clock, do not use an expired lease when the
  kiosk clock runs late.
- A pull that starts from no cursor (first sync, or after 410) is a full snapshot: catalogue rows, leases and
  notices it did not mention are removed at its end.
- Sessions' `seats_left` is the backend's figure minus the seats this kiosk's own not-yet-sent bookings hold, so a
  resident never sees a seat that the kiosk itself already gave away.
- A pulled booking change for a booking with pending ops is skipped: the kiosk's unsent change wins until it has been
  pushed, and the backend's answer to it then sets the row.
- When a booking's last pending op is answered without the booking (a refused create, or `not_found` for a change
  to a booking whose create was refused), the row shows the township's last word: `rejected` with the refusal's
  message, or the newest booking state a result carried. Never a local status the township did not give.
- A booking change with `"erased": true` erases this kiosk's copy of its resident's personal data
  (`Store.erase_booking`), even for a booking with pending ops.
- A rejected create keeps the result (message and alternatives) in the outbox row's `result`;
  `kiosk.sync.apply.booking_alternatives()` reads them for the UI.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cunzhan import protocol
from cunzhan.models import BookingStatus, Provider, QueueOrder, Service, ServiceKind, Session, SessionStatus
from cunzhan.zones import is_zone
from kiosk.settings import TIMEZONE
from kiosk.store import Link, Store, SyncKey, from_text, to_text, utc_now
from kiosk.sync.apply import receive_phone_booking
from kiosk.sync.client import BadResponse, Busy, CursorExpired, LinkDown, SyncError, TooLarge, TownshipClient

log = logging.getLogger("kiosk.sync")

Clock = Callable[[], dt.datetime]
BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 600.0
LEASE_SHIFT_MIN_S = 30.0

# Tables a full pull sweeps, by change entity.
_SWEPT = {
    "service": "services",
    "provider": "providers",
    "session": "sessions",
    "lease": "leases",
    "notice": "notices",
}


@dataclass
class SyncReport:
    """What one `sync_once()` did. `error` is None on success."""

    pushed: int = 0
    applied: int = 0
    rejected: int = 0
    pulled: int = 0
    pages: int = 0
    repulled: bool = False
    error: SyncError | None = None
    clock_skew_s: float | None = None
    kinds: dict[str, int] = field(default_factory=dict)
    zone: str | None = None  # the township's time zone, when this sync found it changed

    @property
    def ok(self) -> bool:
        return self.error is None


def backoff_delay(attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
    """Full jitter: random(0, min(600, 2·2^attempt)) seconds, and never less than the server's Retry-After."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2 ** min(attempt, 30)))
    delay = rng.uniform(0.0, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


class SyncEngine:
    """Push then pull for one kiosk store. Not thread-safe: one engine per worker thread (and store connection)."""

    def __init__(
        self,
        store: Store,
        client: TownshipClient,
        device_id: str,
        *,
        clock: Clock = utc_now,
        batch_size: int = protocol.KIOSK_BATCH,
        pull_limit: int = protocol.PULL_DEFAULT_LIMIT,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.device_id = device_id
        self.clock = clock
        self.batch_size = max(1, min(batch_size, protocol.KIOSK_BATCH))
        self.pull_limit = pull_limit
        self.rng = rng or random.Random()
        self.failures = 0  # failed attempts in a row, for the backoff

    @classmethod
    def from_store(
        cls, store: Store, *, clock: Clock = utc_now, ca_bundle: str | None = None
    ) -> SyncEngine | None:
        """An engine for an enrolled store (device id and address in sync_state, token in the keyring), else None."""
        from kiosk.sync import credentials

        device_id = store.state(SyncKey.DEVICE_ID)
        url = store.state(SyncKey.TOWNSHIP_URL)
        if not device_id or not url:
            return None
        token = credentials.load_token(store.path.parent)
        if not token:
            return None
        return cls(store, TownshipClient(url, token, ca_bundle=ca_bundle), device_id, clock=clock)

    # --- one attempt ------------------------------------------------------------------------------------------------

    def sync_once(self) -> SyncReport:
        """Push everything pending, then pull everything new. Never raises a `SyncError`: it is in the report."""
        report = SyncReport()
        self.store.set_state(SyncKey.LAST_ATTEMPT_AT, to_text(self.clock()))
        try:
            self._push_all(report)
            self._pull_all(report)
        except SyncError as exc:
            report.error = exc
            self.failures += 1
            with self.store.transaction() as conn:
                self.store.set_state(
                    SyncKey.LINK, Link.OFFLINE if isinstance(exc, LinkDown) else Link.ONLINE, conn
                )
                self.store.set_state(SyncKey.LAST_ERROR, f"{exc.kind}: {exc.message()}", conn)
            log.info("sync failed: %s (%s)", exc.kind, exc.detail)
            return report
        self.failures = 0
        with self.store.transaction() as conn:
            self.store.set_state(SyncKey.LINK, Link.ONLINE, conn)
            self.store.set_state(SyncKey.LAST_SUCCESS_AT, to_text(self.clock()), conn)
            self.store.set_state(SyncKey.LAST_ERROR, "", conn)
        log.info(
            "sync ok: pushed %d (applied %d, rejected %d), pulled %d changes in %d pages",
            report.pushed,
            report.applied,
            report.rejected,
            report.pulled,
            report.pages,
        )
        return report

    def next_delay(self, report: SyncReport, interval_s: float) -> float:
        """Seconds until the next attempt: the timer after a success, full-jitter backoff after a failure."""
        if report.error is None:
            return interval_s
        retry_after = report.error.retry_after if isinstance(report.error, Busy) else None
        return backoff_delay(self.failures - 1, self.rng, retry_after)

    # --- push -------------------------------------------------------------------------------------------------------

    def _push_all(self, report: SyncReport) -> None:
        from kiosk import __version__

        size = self.batch_size
        while True:
            ops = self.store.pending_ops(limit=size)
            if not ops:
                return
            body = {
                "device_id": self.device_id,
                "ops": ops,
                "pending_ops": max(0, self.store.pending_count() - len(ops)),
                "app_version": __version__,
            }
            sent = self._stamp()
            try:
                response = self.client.push(body)
            except TooLarge:
                if size > 1:
                    size = max(1, size // 2)
                    continue
                # One op alone is too large: quarantine it so it never blocks the queue behind it.
                self._quarantine(ops[0], "too_large")
                report.rejected += 1
                continue
            self._note_skew(response.server_time, sent, report)
            finished = self._apply_results(ops, response.results, report)
            report.pushed += len(ops)
            if finished == 0:
                # The backend answered without a result for any op we sent: a protocol fault, not progress.
                raise _NoProgress("push answered without results for the ops sent")

    def _quarantine(self, op: dict[str, Any], reason: str) -> None:
        result = {
            "op_id": op["op_id"],
            "outcome": "rejected",
            "replayed": False,
            "reason": "invalid",
            "message": reason,
            "booking": None,
            "alternatives": [],
        }
        with self.store.transaction() as conn:
            self.store.finish_op(conn, op["op_id"], state="rejected", result=result)

    def _apply_results(
        self, ops: list[dict[str, Any]], results: list[protocol.Result], report: SyncReport
    ) -> int:
        """Record each op's final result and update its booking, all in one transaction. Returns ops finished."""
        by_id = {op["op_id"]: op for op in ops}
        finished = 0
        with self.store.transaction() as conn:
            for result in results:
                op = by_id.pop(result.op_id, None)
                if op is None:
                    continue  # not ours in this batch (a confused proxy or server): ignore, never guess
                state = "done" if result.outcome == "applied" else "rejected"
                self.store.finish_op(conn, result.op_id, state=state, result=result.model_dump(mode="json"))
                finished += 1
                if result.outcome == "applied":
                    report.applied += 1
                else:
                    report.rejected += 1
                    report.kinds[result.reason or "rejected"] = (
                        report.kinds.get(result.reason or "rejected", 0) + 1
                    )
                if op["entity"] == "booking":
                    self._apply_booking_result(conn, op, result)
        return finished

    def _apply_booking_result(
        self, conn: sqlite3.Connection, op: dict[str, Any], result: protocol.Result
    ) -> None:
        booking_id = op["entity_id"]
        if self.store.has_pending_ops(booking_id, conn):
            return  # a later local change to this booking is still unsent: it decides the row until pushed
        summary = result.booking if result.booking is not None and result.booking.id == booking_id else None
        status = _status(summary.status) if summary is not None else None
        if summary is not None and status is not None:
            self.store.set_booking_status(
                conn,
                booking_id,
                status,
                message=result.message,
                session_id=summary.session_id,
                version=summary.version,
            )
            return
        # This answer says nothing about the booking (a refused create; `not_found` for an op on a booking whose
        # create was refused in the same or an earlier push): the row must not keep a local status the township
        # never gave, so it shows the township's last word on it.
        self._show_township_state(conn, booking_id)

    def _show_township_state(self, conn: sqlite3.Connection, booking_id: str) -> None:
        """Set the row from the newest finished op of this booking that tells its state: a refused create
        (`rejected`, with that refusal's message) or a result carrying the booking."""
        for kind, state, result in self.store.finished_ops(booking_id):
            if kind == "create" and state == "rejected":
                self.store.set_booking_status(
                    conn, booking_id, BookingStatus.REJECTED, message=str(result.get("message") or "")
                )
                return
            booking = result.get("booking")
            if isinstance(booking, dict) and booking.get("id") == booking_id:
                status = _status(str(booking.get("status")))
                if status is not None:
                    self.store.set_booking_status(
                        conn,
                        booking_id,
                        status,
                        message=str(result.get("message") or ""),
                        session_id=str(booking["session_id"]),
                        version=int(booking["version"]),
                    )
                    return

    # --- pull -------------------------------------------------------------------------------------------------------

    def _pull_all(self, report: SyncReport) -> None:
        cursor = self.store.state(SyncKey.CATALOGUE_CURSOR) or None
        # A snapshot (pull from no cursor) may take several attempts on a bad link: what it has seen so far is kept
        # in sync_state with each page, so the sweep at its end is right even when it was interrupted.
        seen: dict[str, set[str]] | None = {t: set() for t in _SWEPT.values()} if cursor is None else None
        unfinished = self.store.state(SyncKey.SNAPSHOT_SEEN)
        if cursor is not None and unfinished:
            seen = {t: set(ids) for t, ids in json.loads(unfinished).items()}
        while True:
            sent = self._stamp()
            try:
                page = self.client.pull(cursor, self.pull_limit)
            except CursorExpired:
                if report.repulled:
                    raise
                # 410: forget the cursor and take a clean snapshot from the start; the outbox is untouched.
                report.repulled = True
                self.store.set_state(SyncKey.CATALOGUE_CURSOR, "")
                cursor = None
                seen = {t: set() for t in _SWEPT.values()}
                continue
            self._note_skew(page.server_time, sent, report)
            zone = self._new_zone(page.zone)
            with self.store.transaction() as conn:
                self._keep_zone(conn, zone, report)
                if page.match_key:  # with a page that holds a phone booking for this kiosk (docs/sync.md)
                    self.store.set_match_key(conn, page.match_key)
                for change in page.changes:
                    applied = self._apply_change(conn, change)  # False: an unknown or stale change, skipped
                    if applied and seen is not None and change.entity in _SWEPT and change.op == "upsert":
                        seen[_SWEPT[change.entity]].add(change.entity_id)
                    if seen is not None and change.op == "delete" and change.entity in _SWEPT:
                        seen[_SWEPT[change.entity]].discard(change.entity_id)
                if page.changes:
                    top = max(c.seq for c in page.changes)
                    last = int(self.store.state(SyncKey.LAST_SEQ, "0") or 0) if cursor else 0
                    self.store.set_state(SyncKey.LAST_SEQ, str(max(top, last)), conn)
                self.store.set_state(SyncKey.CATALOGUE_CURSOR, page.next_cursor, conn)
                if seen is not None:
                    self.store.set_state(
                        SyncKey.SNAPSHOT_SEEN, json.dumps({t: sorted(ids) for t, ids in seen.items()}), conn
                    )
            report.pulled += len(page.changes)
            report.pages += 1
            cursor = page.next_cursor
            if not page.has_more or not page.changes:
                break  # an empty page that claims more would only spin: the next sync carries on from here
        if seen is not None and not page.has_more:
            self._sweep(seen)  # only a snapshot that reached the end says what no longer exists

    def _sweep(self, seen: dict[str, set[str]]) -> None:
        """After a full snapshot: what it did not mention no longer exists at the township."""
        with self.store.transaction() as conn:
            self.store.set_state(SyncKey.SNAPSHOT_SEEN, "", conn)
            for table, ids in seen.items():
                self.store.forget_unseen(conn, table, ids)

    def _apply_change(self, conn: sqlite3.Connection, change: protocol.Change) -> bool:
        """Apply one change inside the page's transaction; False when its data is unusable (skipped, logged)."""
        try:
            handler = getattr(self, f"_change_{change.entity}")
            handler(conn, change)
        except (KeyError, ValueError, TypeError) as exc:
            log.warning("skipped %s change seq %d: %s", change.entity, change.seq, type(exc).__name__)
            return False
        return True

    def _change_service(self, conn: sqlite3.Connection, ch: protocol.Change) -> None:
        if ch.op == "delete":
            self.store.mark_deleted("services", ch.entity_id, conn)
            return
        d = ch.data
        bring = d.get("what_to_bring")
        if bring is None:
            known = self.store.service(ch.entity_id)
            bring = known.what_to_bring if known else ""
        self.store.upsert_service(
            Service(
                ch.entity_id,
                ServiceKind(d["kind"]),
                str(d["name"]),
                str(d.get("description") or ""),
                bool(d.get("review", False)),
                str(bring),
                _queue_order(d.get("queue_order")),
            ),
            version=ch.version,
            conn=conn,
        )
        if _queue_order(d.get("queue_order")) is QueueOrder.BOOKING:
            self.store.keep_numbers(conn, ch.entity_id)

    def _change_provider(self, conn: sqlite3.Connection, ch: protocol.Change) -> None:
        if ch.op == "delete":
            self.store.mark_deleted("providers", ch.entity_id, conn)
            return
        d = ch.data
        self.store.upsert_provider(
            Provider(
                ch.entity_id, str(d["name"]), str(d.get("title") or ""), str(d.get("organisation") or "")
            ),
            version=ch.version,
            conn=conn,
        )

    def _change_session(self, conn: sqlite3.Connection, ch: protocol.Change) -> None:
        if ch.op == "delete":
            self.store.mark_deleted("sessions", ch.entity_id, conn)
            return
        d = ch.data
        capacity = int(d["capacity"])
        seats_left = int(d["seats_left"]) - self.store.seats_held_unsent(ch.entity_id)
        self.store.upsert_session(
            Session(
                ch.entity_id,
                str(d["service_id"]),
                str(d["provider_id"]),
                from_text(str(d["starts_at"])),
                from_text(str(d["ends_at"])),
                capacity,
                max(0, min(capacity, seats_left)),
                str(d.get("room") or ""),
                str(d.get("video_url") or ""),
                SessionStatus(d.get("status", "open")),
                ch.version,
            ),
            conn=conn,
        )

    def _change_booking(self, conn: sqlite3.Connection, ch: protocol.Change) -> None:
        if ch.data.get("erased") is True:
            # The township erased its resident's personal data: so does this kiosk, pending ops or not (they
            # carry no personal data the erasure touches, and keep their payload until answered).
            self.store.erase_booking(conn, ch.entity_id)
        if self.store.has_pending_ops(ch.entity_id, conn):
            return  # never overwrite a row with unsent local changes
        if self.store.booking(ch.entity_id) is None:
            # Only this kiosk's bookings come down: made here, or by phone at the township for this kiosk (kept
            # for their resident, apply.receive_phone_booking). One made here that we do not hold (a store
            # restored from an old backup) cannot be rebuilt without the resident's details, so it is skipped.
            receive_phone_booking(self.store, conn, ch)
            return
        if ch.op == "delete":
            self.store.set_booking_status(conn, ch.entity_id, BookingStatus.CANCELLED, version=ch.version)
            return
        d = ch.data
        status = _status(str(d["status"]))
        if status is None:
            raise ValueError("unknown booking status")
        message = d.get("message")
        self.store.set_booking_status(
            conn,
            ch.entity_id,
            status,
            message=str(message) if message is not None else None,
            session_id=str(d["session_id"]) if d.get("session_id") else None,
            version=int(d.get("version", ch.version)),
        )

    def _change_lease(self, conn: sqlite3.Connection, ch: protocol.Change) -> None:
        counted = ch.data.get("bookings")
        if isinstance(counted, list) and ch.data.get("session_id"):  # lease bookings the township has counted
            self.store.note_lease_counted(conn, str(ch.data["session_id"]), [str(b) for b in counted])
        if ch.op == "delete":
            self.store.delete_lease(conn, ch.entity_id)
            return
        d = ch.data
        expires = from_text(str(d["expires_at"]))
        skew = float(self.store.state(SyncKey.CLOCK_SKEW_S, "0") or 0)
        if abs(skew) > LEASE_SHIFT_MIN_S:
            expires -= dt.timedelta(seconds=skew)  # into the kiosk clock's frame (see module docstring)
        self.store.upsert_lease(
            conn,
            ch.entity_id,
            session_id=str(d["session_id"]),
            seats=int(d["seats"]),
            expires_at=expires,
            version=ch.version,
        )

    def _change_notice(self, conn: sqlite3.Connection, ch: protocol.Change) -> None:
        if ch.op == "delete":
            self.store.delete_notice(conn, ch.entity_id)
            return
        self.store.upsert_notice(conn, ch.entity_id, ch.data, ch.version)

    # --- clock ------------------------------------------------------------------------------------------------------

    def _stamp(self) -> dt.datetime:
        """The kiosk clock now, also sent as the optional client-time header (the console shows staff the skew)."""
        now = self.clock()
        self.client.headers[protocol.CLIENT_TIME_HEADER] = to_text(now)
        return now

    def _new_zone(self, zone: str | None) -> str | None:
        """The township's time zone from a pull page, when it is a real zone and not the kiosk's already."""
        if not zone or not is_zone(zone):
            return None
        return None if self.store.stored_settings().get(TIMEZONE.key) == zone else zone

    def _keep_zone(self, conn: sqlite3.Connection, zone: str | None, report: SyncReport) -> None:
        """The township moved to another time zone (`zone`, from `_new_zone`): the kiosk shows times in it."""
        if zone is not None:
            self.store.write_setting(conn, TIMEZONE.key, zone)
            self.store.audit("system", "setting_changed", TIMEZONE.key, conn=conn)
            report.zone = zone

    def _note_skew(self, server_time: str, sent: dt.datetime, report: SyncReport) -> None:
        """Skew = server time minus the kiosk clock at the middle of the exchange (seconds; positive = kiosk late)."""
        try:
            server = from_text(server_time)
        except ValueError:
            return
        received = self.clock()
        middle = sent + (received - sent) / 2
        skew = (server - middle).total_seconds()
        report.clock_skew_s = skew
        self.store.set_state(SyncKey.CLOCK_SKEW_S, f"{skew:.1f}")


class _NoProgress(BadResponse):
    """The backend answered a push without a result for any op sent."""


def _status(value: str) -> BookingStatus | None:
    try:
        status = BookingStatus(value)
    except ValueError:
        return None
    return None if status is BookingStatus.REQUESTED else status


def _queue_order(value: object) -> QueueOrder:
    """A service's queue order from its change data: check-in order when absent (a backend from before the setting)
    or unknown (a newer one): numbers in check-in order are always right, only in a different order."""
    try:
        return QueueOrder(str(value))
    except ValueError:
        return QueueOrder.CHECK_IN
