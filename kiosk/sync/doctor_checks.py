"""Doctor checks for the township link: address set and reachable, device token present and accepted, clock skew.

Imported by `kiosk.doctor.doctor_command`; each check registers itself with `kiosk.doctor.check`.
"""

from __future__ import annotations

import datetime as dt

from cunzhan.i18n import N_, gettext
from kiosk.doctor import Finding, check
from kiosk.store import SyncKey
from kiosk.sync.status import SKEW_WARNING_S


def _state() -> dict[str, str]:
    from kiosk.crypto import KeyringUnavailable
    from kiosk.store import Store, StoreError

    try:
        store = Store.open()
    except (StoreError, KeyringUnavailable):
        return {}
    try:
        return store.states() | {"_data_dir": str(store.path.parent)}
    finally:
        store.close()


@check
def township_address() -> Finding:
    from kiosk.sync.client import SyncError, TownshipClient

    name = gettext(N_("Township address"))
    url = _state().get(SyncKey.TOWNSHIP_URL, "")
    if not url:
        return Finding(
            name,
            False,
            gettext(N_("this kiosk is not enrolled with a township")),
            gettext(
                N_(
                    "Enrol it: python -m kiosk enroll --server URL --code CODE (code from the "
                    "township console), or in staff mode."
                )
            ),
        )
    try:
        with TownshipClient(url) as client:
            client.health()
    except SyncError as exc:
        return Finding(
            name,
            False,
            f"{url}: {exc.message()}",
            gettext(N_("Check the network link and the township address in staff settings.")),
        )
    except ValueError as exc:
        return Finding(name, False, str(exc), gettext(N_("Correct the township address in staff settings.")))
    return Finding(name, True, gettext(N_("{url} answers")).format(url=url))


@check
def device_token() -> Finding:
    from kiosk.sync import credentials
    from kiosk.sync.client import LinkDown, SyncError, TownshipClient

    name = gettext(N_("Township credentials"))
    state = _state()
    if not state.get(SyncKey.DEVICE_ID):
        return Finding(
            name,
            False,
            gettext(N_("no device credentials: the kiosk is not enrolled")),
            gettext(N_("Enrol the kiosk with a code from the township console.")),
        )
    try:
        token = credentials.load_token(state["_data_dir"])
    except credentials.CredentialError as exc:
        return Finding(name, False, exc.message(), gettext(N_("Unlock or start the system keyring.")))
    if not token:
        return Finding(
            name,
            False,
            gettext(N_("the device token is missing from the keyring")),
            gettext(N_("Enrol the kiosk again with a new code from the township console.")),
        )
    try:
        with TownshipClient(state.get(SyncKey.TOWNSHIP_URL, ""), token) as client:
            client.pull(None, limit=1)
    except LinkDown:
        return Finding(name, True, gettext(N_("token present; not checked, the township is unreachable")))
    except SyncError as exc:
        return Finding(
            name,
            False,
            exc.message(),
            gettext(N_("Enrol the kiosk again with a new code from the township console.")),
        )
    except ValueError as exc:
        return Finding(name, False, str(exc), gettext(N_("Correct the township address in staff settings.")))
    return Finding(name, True, gettext(N_("token present and accepted by the township")))


@check
def clock() -> Finding:
    from kiosk.store import from_text
    from kiosk.sync.client import SyncError, TownshipClient

    name = gettext(N_("Clock"))
    state = _state()
    url = state.get(SyncKey.TOWNSHIP_URL, "")
    skew: float | None = None
    if url:
        try:
            with TownshipClient(url) as client:
                before = dt.datetime.now(dt.UTC)
                health = client.health()
                after = dt.datetime.now(dt.UTC)
            skew = (from_text(health.server_time) - (before + (after - before) / 2)).total_seconds()
        except (SyncError, ValueError):
            skew = None
    if skew is None and state.get(SyncKey.CLOCK_SKEW_S):
        skew = float(state[SyncKey.CLOCK_SKEW_S])
    if skew is None:
        return Finding(name, True, gettext(N_("not compared: no township time known yet")))
    if abs(skew) > SKEW_WARNING_S:
        return Finding(
            name,
            False,
            gettext(N_("the kiosk clock is {minutes} minutes off the township's")).format(
                minutes=round(skew / 60)
            ),
            gettext(
                N_(
                    "Set the date and time of this computer (or turn on network "
                    "time). Bookings stay correct; only times shown are affected."
                )
            ),
        )
    return Finding(
        name,
        True,
        gettext(N_("within {seconds} seconds of the township's")).format(seconds=max(1, round(abs(skew)))),
    )
