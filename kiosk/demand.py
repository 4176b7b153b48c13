"""What residents wanted and could not have (#18, the needs profile), with no personal data, pushed like any other
op; the township counts each as unmet demand (`township.insight.unmet`).

- `demand`/`no_session`: a resident looked for a service (and perhaps a doctor or teacher) and no session was open
  in the booking horizon: the service, the village the kiosk serves, the day and time wanted when known, when.
- `demand`/`slot_full`: a resident touched a time that was full (or filled up while they were choosing): the
  session, the village the kiosk serves, when."""

from __future__ import annotations

import datetime as dt

from kiosk.store import Store, new_id, to_text, utc_now

ENTITY = "demand"
KIND = "no_session"
KIND_FULL = "slot_full"


def record_no_session(
    store: Store,
    *,
    service_id: str,
    village: str | None,
    wanted_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Queue one search that found no open session; returns the op's entity id."""
    entity_id = new_id()
    with store.transaction() as conn:
        store.enqueue(
            conn,
            entity=ENTITY,
            entity_id=entity_id,
            kind=KIND,
            payload={
                "service_id": service_id,
                "village": village or None,
                "wanted_at": to_text(wanted_at) if wanted_at else None,
                "at": to_text(now or utc_now()),
            },
        )
    return entity_id


def record_slot_full(
    store: Store,
    *,
    session_id: str,
    village: str | None,
    now: dt.datetime | None = None,
) -> str:
    """Queue one touch of a full time (the session's seats all taken); returns the op's entity id."""
    entity_id = new_id()
    with store.transaction() as conn:
        store.enqueue(
            conn,
            entity=ENTITY,
            entity_id=entity_id,
            kind=KIND_FULL,
            payload={"session_id": session_id, "village": village or None, "at": to_text(now or utc_now())},
        )
    return entity_id
