"""Load the demo township's catalogue into the kiosk's store, for a kiosk that has no backend to sync with."""

from __future__ import annotations

import argparse

from cunzhan import demo
from kiosk.store import Store


def seed_demo(store: Store) -> int:
    """Insert the demo services, providers and two weeks of sessions from today; returns the session count."""
    sessions = demo.demo_sessions(demo.today_local())
    with store.transaction() as conn:
        for service in demo.SERVICES:
            store.upsert_service(service, conn=conn)
        for provider in demo.PROVIDERS:
            store.upsert_provider(provider, conn=conn)
        for session in sessions:
            store.upsert_session(session, conn=conn)
    return len(sessions)


def seed_command(args: argparse.Namespace) -> int:
    from kiosk.crypto import KeyringUnavailable
    from kiosk.store import StoreError

    try:
        store = Store.open()
    except (StoreError, KeyringUnavailable) as exc:
        print(exc.message())
        return 1
    count = seed_demo(store)
    print(f"demo schedule loaded: {count} sessions")
    return 0
