"""The audit queue: the kiosk's local audit rows, sent to the township exactly once.

`queue_audit` moves the audit rows not yet queued into outbox ops (`entity="audit"`, `kind="batch"`) in the same
transaction as the cursor that remembers them, so the township receives each row exactly once through the ordinary,
idempotent push (SYNC.md): a crash between an action and its queueing loses nothing, the rows are picked up by the
next call. Staff actions call it after each one (kiosk/staff/)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kiosk.store import Store
from kiosk.store.staff import AuditRow
from kiosk.store.sync_state import SyncKey

AUDIT_ENTITY = "audit"
AUDIT_KIND = "batch"
AUDIT_BATCH_MAX = 200  # rows per outbox op, far below the 1 MiB push limit
AUDIT_CURSOR_KEY = SyncKey.AUDIT_QUEUED_UPTO  # the last audit_log id already put in the outbox
ACTOR_UNKNOWN = "unknown"  # an audit row without an actor (who typed a wrong PIN is not known either)


def _batches(rows: Sequence[AuditRow]) -> list[dict[str, Any]]:
    """The rows as outbox payloads of at most `AUDIT_BATCH_MAX` entries, cut to the sizes the wire model
    (protocol.AuditEntry) allows; audit rows are short by design anyway."""
    return [
        {
            "entries": [
                {
                    "seq": r.id,
                    "at": r.at,
                    "actor": r.actor[:64] or ACTOR_UNKNOWN,
                    "action": r.action[:64],
                    "detail": r.detail[:200],
                }
                for r in rows[start : start + AUDIT_BATCH_MAX]
            ]
        }
        for start in range(0, len(rows), AUDIT_BATCH_MAX)
    ]


def queue_audit(store: Store, *, exclude_actors: tuple[str, ...] = ("resident",)) -> int:
    """Put the audit rows not yet queued into outbox ops (≤ 200 rows each) and move the cursor, in one transaction.

    Residents' own actions are left out: the township already receives them as booking ops. Returns how many rows
    were queued."""
    return store.queue_audit_rows(
        _batches,
        cursor_key=AUDIT_CURSOR_KEY,
        exclude_actors=exclude_actors,
        entity=AUDIT_ENTITY,
        kind=AUDIT_KIND,
    )
