"""Enrol this kiosk with a township backend: from staff mode, `python -m kiosk enroll`, or a provisioning file.

All three go through `enroll()`. It checks the address and the code's form, makes sure the keyring can keep a token
*before* spending the single-use code, exchanges the code for a device id and token, keeps the token in the keyring
(`kiosk.sync.credentials`) and the device id, kiosk number and address in the store's `sync_state`.

A provisioning file `provision.json` in the kiosk data directory (`$CUNZHAN_HOME/kiosk/`) is read at start-up:
`{"server": URL, "enrollment_code": CODE, "kiosk_name": NAME, "settings": {KEY: VALUE, …}}`. It is validated by the
same code, applied, then deleted. When it can never work (bad form, refused code) it is replaced by
`provision.rejected.json` holding the reason but not the code; when the township is just unreachable it is kept for
the next start.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cunzhan import protocol
from cunzhan.i18n import N_, gettext
from cunzhan.zones import is_zone
from kiosk.store import Store, SyncKey
from kiosk.sync import credentials
from kiosk.sync.client import Forbidden, LinkDown, SyncError, TLSRefused, TownshipClient, check_url

log = logging.getLogger("kiosk.sync")

PROVISION_FILE = "provision.json"
REJECTED_FILE = "provision.rejected.json"


@dataclass(frozen=True, slots=True)
class EnrollResult:
    """What enrolment gave this kiosk (never the token)."""

    device_id: str
    township_id: str
    kiosk_number: int
    server_url: str
    reenrolled: bool


class EnrollError(RuntimeError):
    """Enrolment did not happen (or, for `code_spent`, happened but the token could not be kept)."""

    TEXTS: ClassVar[dict[str, str]] = {
        "address": N_("The township address is not right: {detail}"),
        "code_format": N_(
            "The enrolment code does not look right. Please type it exactly as the township console shows it."
        ),
        "code_refused": N_(
            "The township did not accept this enrolment code. It may be mistyped, already used or "
            "expired. Ask the township for a new code."
        ),
        "unreachable": N_(
            "The township service cannot be reached at this address. Check the address and the "
            "network cable or mobile signal, then try again."
        ),
        "certificate": N_(
            "The township service's certificate could not be verified, so the kiosk refused to "
            "connect. Check the address, or ask the township technician for a valid certificate."
        ),
        "not_township": N_("This address answered, but not as a township service. Check the address."),
        "keyring": N_("The kiosk cannot keep its credentials: {detail}"),
        "code_spent": N_(
            "The kiosk was enrolled but could not keep its credentials ({detail}). Fix the keyring, "
            "then enrol again with a new code."
        ),
        "provision_file": N_("The provisioning file is not valid: {detail}"),
        "server": N_("The township service could not enrol the kiosk just now. Please try again in a while."),
    }

    def __init__(self, kind: str, detail: str = "") -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind}: {detail}" if detail else kind)

    def message(self) -> str:
        return gettext(self.TEXTS.get(self.kind, N_("Enrolment failed."))).format(detail=self.detail)

    @property
    def permanent(self) -> bool:
        """True when trying the same thing again cannot work."""
        return self.kind not in {"unreachable", "server"}


def default_kiosk_name(store: Store) -> str:
    from kiosk import settings as s

    name = str(s.Settings(store.stored_settings()).get(s.KIOSK_NAME) or "").strip()
    return name or socket.gethostname() or "kiosk"


def enroll(
    server_url: str,
    code: str,
    kiosk_name: str | None = None,
    *,
    store: Store | None = None,
    ca_bundle: str | None = None,
) -> EnrollResult:
    """Enrol the kiosk whose store is `store` (default: the kiosk's own). Raises `EnrollError` with a message."""
    own = store is None
    st = store or Store.open()
    try:
        return _enroll(st, server_url, code, kiosk_name, ca_bundle)
    finally:
        if own:
            st.close()


def _enroll(
    store: Store, server_url: str, code: str, kiosk_name: str | None, ca_bundle: str | None
) -> EnrollResult:
    try:
        url = check_url(server_url)
    except ValueError as exc:
        raise EnrollError("address", str(exc)) from None
    name = (kiosk_name or "").strip() or default_kiosk_name(store)
    from kiosk import __version__

    try:
        request = protocol.EnrollRequest(
            enrollment_code="".join(code.split()), kiosk_name=name[:100], app_version=__version__
        )
    except ValidationError:
        raise EnrollError("code_format") from None
    data_dir = store.path.parent
    # The code is single-use: make sure the token can be kept before spending it.
    try:
        previous = credentials.load_token(data_dir)
    except credentials.CredentialError as exc:
        raise EnrollError("keyring", exc.message()) from None
    response = _exchange(url, request, ca_bundle)
    try:
        credentials.save_token(data_dir, response.device_token)
    except credentials.CredentialError as exc:
        raise EnrollError("code_spent", exc.detail) from None
    reenrolled = store.state(SyncKey.DEVICE_ID) is not None or previous is not None
    from kiosk import settings as s

    store.record_enrolment(
        device_id=response.device_id,
        township_id=response.township_id,
        kiosk_number=response.kiosk_number,
        url=url,
        url_setting=s.TOWNSHIP_URL.key,
        reenrolled=reenrolled,
        zone=(s.TIMEZONE.key, response.zone) if response.zone and is_zone(response.zone) else None,
    )
    log.info("enrolled as kiosk %d", response.kiosk_number)
    return EnrollResult(response.device_id, response.township_id, response.kiosk_number, url, reenrolled)


def _exchange(url: str, request: protocol.EnrollRequest, ca_bundle: str | None) -> protocol.EnrollResponse:
    """POST /v1/enroll, with each failure turned into an `EnrollError` kind."""
    client = TownshipClient(url, ca_bundle=ca_bundle)
    try:
        response = client.enroll(request)
    except Forbidden:
        raise EnrollError("code_refused") from None
    except TLSRefused:
        raise EnrollError("certificate") from None
    except LinkDown:
        raise EnrollError("unreachable") from None
    except SyncError as exc:
        if exc.status is None or exc.status in (404, 405, 400) or exc.kind == "bad_response":
            raise EnrollError("not_township") from None
        if exc.status == 401:
            raise EnrollError("code_refused") from None
        raise EnrollError("server", exc.kind) from None
    finally:
        client.close()
    return response


# --- provisioning file --------------------------------------------------------------------------------------------


class ProvisionFile(BaseModel):
    """The provisioning JSON file's shape."""

    model_config = ConfigDict(extra="forbid")

    server: str
    enrollment_code: str
    kiosk_name: str = Field(default="", max_length=100)
    settings: dict[str, Any] = Field(default_factory=dict)
    staff: dict[str, Any] | None = (
        None  # the first staff member {"id", "name", "pin"}: kiosk.staff (hashed at once)
    )


def provision_path(data_dir: Path) -> Path:
    return data_dir / PROVISION_FILE


def _checked_settings(raw: dict[str, Any]) -> dict[str, str]:
    """Settings from the file, as stored text; unknown keys or wrong types are refused by name."""
    from kiosk import settings as s

    known = s.declared()
    out: dict[str, str] = {}
    for key, value in raw.items():
        setting = known.get(key)
        if setting is None:
            raise EnrollError("provision_file", gettext(N_("unknown setting {key}")).format(key=key))
        text = (
            s.render(setting, value)
            if isinstance(value, setting.type)
            or (setting.type is float and isinstance(value, int) and not isinstance(value, bool))
            else str(value)
        )
        try:
            s.parse(setting, text)
        except (ValueError, TypeError):
            raise EnrollError(
                "provision_file", gettext(N_("wrong value for {key}")).format(key=key)
            ) from None
        if setting.type is bool and not isinstance(value, bool):
            raise EnrollError("provision_file", gettext(N_("wrong value for {key}")).format(key=key))
        out[key] = text
    return out


def provision_from_file(store: Store, *, ca_bundle: str | None = None) -> EnrollResult | None:
    """Enrol from `provision.json` next to the store, if there is one. Raises `EnrollError` when it fails."""
    path = provision_path(store.path.parent)
    if not path.exists():
        return None
    try:
        try:
            spec = ProvisionFile.model_validate_json(path.read_bytes())
        except ValidationError as exc:
            fields = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")})) or "JSON"
            raise EnrollError("provision_file", fields) from None
        chosen = _checked_settings(spec.settings)
        first_staff = _checked_staff(path, spec.staff)
        result = enroll(
            spec.server, spec.enrollment_code, spec.kiosk_name or None, store=store, ca_bundle=ca_bundle
        )
    except EnrollError as exc:
        if exc.permanent:
            _reject(path, exc)
        raise
    for key, text in chosen.items():
        store.set_setting(key, text, actor="provisioning")
    if first_staff is not None:  # the code was accepted: it vouches for the staff member in the same file
        from kiosk.staff.provisioning import apply_provisioned_staff

        apply_provisioned_staff(store, first_staff)
    path.unlink(missing_ok=True)
    return result


def _checked_staff(path: Path, raw: dict[str, Any] | None) -> Any:
    """The file's staff entry with its PIN hashed (the file rewritten without the clear PIN), or None."""
    if raw is None:
        return None
    from kiosk.staff.accounts import StaffError
    from kiosk.staff.provisioning import read_provisioned_staff

    try:
        return read_provisioned_staff(path, raw)
    except StaffError as exc:
        raise EnrollError("provision_file", "staff: " + exc.message()) from None


def _reject(path: Path, error: EnrollError) -> None:
    """Replace the file by a note of why it failed, without the (now useless) code."""
    note = {"error": error.kind, "message": error.message()}
    try:
        original = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(original, dict):
            note.update({k: v for k, v in original.items() if k in {"server", "kiosk_name"}})
    except (ValueError, OSError):
        pass
    path.with_name(REJECTED_FILE).write_text(json.dumps(note, ensure_ascii=False, indent=2), encoding="utf-8")
    path.unlink(missing_ok=True)


# --- command line -------------------------------------------------------------------------------------------------


def enroll_command(args: argparse.Namespace) -> int:
    """`python -m kiosk enroll --server URL --code CODE [--name NAME]`: enrol, then sync once."""
    from cunzhan.i18n import set_default_locale
    from kiosk import settings as s
    from kiosk.crypto import KeyringUnavailable
    from kiosk.store import StoreError

    set_default_locale(str(s.Settings().get(s.LOCALE)))  # the environment's choice, until the store is open
    try:
        store = Store.open()
    except (StoreError, KeyringUnavailable) as exc:
        print(exc.message())
        return 1
    set_default_locale(str(s.Settings(store.stored_settings()).get(s.LOCALE)))
    try:
        try:
            result = enroll(args.server, args.code, args.name, store=store)
        except EnrollError as exc:
            print(exc.message())
            return 1
        if result.reenrolled:
            print(gettext(N_("This kiosk was enrolled before; its old credentials have been replaced.")))
        print(
            gettext(N_("Enrolled with {url} as kiosk number {number}.")).format(
                url=result.server_url, number=result.kiosk_number
            )
        )
        from kiosk.sync.engine import SyncEngine

        engine = SyncEngine.from_store(store)
        if engine is None:
            return 1
        report = engine.sync_once()
        engine.client.close()
        if report.error is not None:
            print(
                gettext(N_("First sync did not finish: {message} The kiosk will keep trying.")).format(
                    message=report.error.message()
                )
            )
            return 0
        print(gettext(N_("First sync done: {changes} updates received.")).format(changes=report.pulled))
        return 0
    finally:
        store.close()
