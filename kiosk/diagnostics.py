"""A diagnostics export for the township's technician, without personal data: one zip file.

What it holds (all JSON, plus scrubbed log files):
- `manifest.json`: app and library versions, platform, when it was made, kiosk number, township host;
- `settings.json`: every declared setting with its value and where it came from — secret settings and undeclared
  stored keys (such as PIN hashes) by name only; the service centre's phone masked;
- `sync.json`: the sync state staff see (last success, ops waiting, last error, clock skew) and the allow-listed
  `sync_state` keys;
- `counts.json`: rows per table, bookings by status and channel, outbox ops by entity, kind and state, staff and
  PIN lock-out state;
- `audit.json`: the most recent audit actions (who by staff number, what, never personal details);
- `doctor.json`: the `python -m kiosk doctor` findings;
- `logs/…`: `*.log` files from the kiosk's data directory (the last 1 MiB of each).

Everything written passes through `Scrubber`, which removes what must never leave the kiosk even if some other code
was careless: every resident's, dependent's and staff member's name known to the store, ID numbers and mobile numbers
(by pattern and by the store's own values), the device token and anything token-like, bearer headers.

    python -m kiosk.diagnostics [--out FOLDER]     # prints the path of the zip
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cunzhan.identity import mask_id, mask_phone
from cunzhan.paths import private_file, secure_dir
from kiosk import settings as s
from kiosk.store import Store, SyncKey, to_text, utc_now
from kiosk.sync.status import read_status

AUDIT_LIMIT = 300
LOG_TAIL_BYTES = 1024 * 1024
# sync_state keys safe to export (never the token: that lives only in the keyring, and is scrubbed anyway).
SYNC_KEYS: tuple[SyncKey, ...] = (
    SyncKey.LINK,
    SyncKey.LAST_SUCCESS_AT,
    SyncKey.LAST_ATTEMPT_AT,
    SyncKey.LAST_ERROR,
    SyncKey.CLOCK_SKEW_S,
    SyncKey.KIOSK_NUMBER,
    SyncKey.DEVICE_ID,
    SyncKey.TOWNSHIP_ID,
    SyncKey.TOWNSHIP_URL,
    SyncKey.CATALOGUE_CURSOR,
    SyncKey.AUDIT_QUEUED_UPTO,
)
MASKED_SETTINGS = {s.KIOSK_PHONE.key}

ID_RE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
ID15_RE = re.compile(r"(?<![0-9])\d{15}(?![0-9])")  # first-generation 15-digit ID cards
PHONE_RE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![0-9])")
BEARER_RE = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
TOKENISH_RE = re.compile(r"[A-Za-z0-9_\-+=]{32,}")


class Scrubber:
    """Removes personal data and secrets from text. Built from the store, so it knows the names it holds."""

    def __init__(
        self, *, names: Iterable[str] = (), numbers: Iterable[str] = (), secrets: Iterable[str] = ()
    ) -> None:
        # Longest first, so 欧阳春花 is removed before a shorter name inside it.
        self.names = sorted({n.strip() for n in names if len(n.strip()) >= 2}, key=len, reverse=True)
        self.numbers = sorted({n for n in numbers if n}, key=len, reverse=True)
        self.secrets = sorted({x for x in secrets if x and len(x) >= 8}, key=len, reverse=True)

    @classmethod
    def for_store(cls, store: Store) -> Scrubber:
        """Every name, ID number and phone the store holds, decrypted in memory only, plus the device token."""
        names, numbers = store.personal_texts()
        secrets: list[str] = []
        try:
            from kiosk.sync import credentials

            token = credentials.load_token(store.path.parent)
            if token:
                secrets.append(token)
        except Exception:  # a locked keyring only means there is no token to look for
            pass
        return cls(names=names, numbers=numbers, secrets=secrets)

    def text(self, value: str) -> str:
        """`value` with every secret, personal number and known name replaced."""
        for secret in self.secrets:
            value = value.replace(secret, "<token>")
        value = BEARER_RE.sub(r"\1<token>", value)
        value = TOKENISH_RE.sub(lambda m: m.group(0) if UUID_RE.match(m.group(0)) else "<secret>", value)
        for number in self.numbers:
            masked = mask_phone(number) if len(number) == 11 else mask_id(number)
            value = value.replace(number, masked).replace(number.lower(), masked)
        value = ID_RE.sub(lambda m: mask_id(m.group(0)), value)
        value = ID15_RE.sub(lambda m: mask_id(m.group(0)), value)
        value = PHONE_RE.sub(lambda m: mask_phone(re.sub(r"\D", "", m.group(0))[-11:]), value)
        for name in self.names:
            value = value.replace(name, "<name>")
        return value


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def manifest(store: Store) -> dict[str, Any]:
    from urllib.parse import urlsplit

    from kiosk import __version__

    url = store.state(SyncKey.TOWNSHIP_URL) or ""
    return {
        "app": "cunzhan-kiosk",
        "version": __version__,
        "created_at": to_text(utc_now()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "libraries": {
            d: _version(d)
            for d in (
                "PySide6-Essentials",
                "sqlite-utils",
                "argon2-cffi",
                "keyring",
                "requests",
                "vosk",
                "pyttsx3",
                "cryptography",
                "pydantic",
            )
        },
        "sqlite": __import__("sqlite3").sqlite_version,
        "kiosk_number": store.state(SyncKey.KIOSK_NUMBER),
        "township_host": urlsplit(url).hostname if url else None,
        "schema": list(store.applied_migrations()),
    }


def settings_report(store: Store) -> dict[str, Any]:
    import os

    stored = store.stored_settings()
    view = s.Settings(stored)
    out: dict[str, Any] = {}
    for key, setting in s.declared().items():
        if "CUNZHAN_" + key.upper() in os.environ:
            source = "environment"
        elif key in stored:
            source = "stored"
        else:
            source = "default"
        value: Any = view.get(setting)
        if setting.secret:
            value = "<hidden>"
        elif key in MASKED_SETTINGS and value:
            value = (
                mask_phone(re.sub(r"\D", "", str(value))[-11:])
                if len(re.sub(r"\D", "", str(value))) >= 11
                else "<hidden>"
            )
        out[key] = {"value": value, "source": source}
    others = sorted(k for k in stored if k not in s.declared())
    return {"settings": out, "other_stored_keys": others}


def sync_report(store: Store) -> dict[str, Any]:
    status = read_status(store)
    state = store.states()
    return {
        "status": {
            "enrolled": status.enrolled,
            "online": status.online,
            "last_success_at": to_text(status.last_success_at) if status.last_success_at else None,
            "last_error": status.last_error,
            "pending_ops": status.pending_ops,
            "clock_skew_s": status.clock_skew_s,
            "skew_warning": status.skew_warning,
        },
        "state": {k: state[k] for k in SYNC_KEYS if k in state},
        "other_state_keys": sorted(k for k in state if k not in SYNC_KEYS),
    }


def counts_report(store: Store) -> dict[str, Any]:
    return {"rows": store.row_counts(), **store.usage_counts(utc_now())}


def audit_report(store: Store, limit: int = AUDIT_LIMIT) -> list[dict[str, Any]]:
    return store.audit_tail(limit)


def doctor_report() -> list[dict[str, Any]]:
    from kiosk.doctor import run_checks

    try:
        import kiosk.sync.doctor_checks  # noqa: F401 - registers the township link checks
    except ImportError:
        pass
    return [asdict(f) for f in run_checks()]


def _logs(data_dir: Path) -> list[Path]:
    found = sorted(set(data_dir.glob("*.log")) | set(data_dir.glob("logs/*.log*")))
    return [p for p in found if p.is_file()]


def _tail(path: Path) -> str:
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - LOG_TAIL_BYTES))
        return fh.read().decode("utf-8", errors="replace")


def export_diagnostics(
    store: Store, out_dir: Path | None = None, *, doctor: list[dict[str, Any]] | None = None
) -> Path:
    """Write the diagnostics zip into `out_dir` (default: `<data dir>/diagnostics/`); returns its path.

    `doctor`: findings already gathered (the staff screen runs the checks in the background); None runs them."""
    data_dir = store.path.parent
    folder = Path(out_dir) if out_dir else secure_dir(data_dir / "diagnostics")
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    number = store.state(SyncKey.KIOSK_NUMBER) or "x"
    path = folder / f"cunzhan-kiosk{number}-diagnostics-{stamp}.zip"
    scrub = Scrubber.for_store(store)
    parts: dict[str, Any] = {
        "manifest.json": manifest(store),
        "settings.json": settings_report(store),
        "sync.json": sync_report(store),
        "counts.json": counts_report(store),
        "audit.json": audit_report(store),
        "doctor.json": doctor if doctor is not None else doctor_report(),
    }
    partial = path.with_suffix(".zip.partial")
    with (
        os.fdopen(private_file(partial), "wb") as raw,
        zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as bundle,
    ):
        for name, content in parts.items():
            text = json.dumps(content, ensure_ascii=False, indent=2, default=str)
            bundle.writestr(name, scrub.text(text))
        for log in _logs(data_dir):
            bundle.writestr(f"logs/{log.name}", scrub.text(_tail(log)))
    partial.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    """`python -m kiosk.diagnostics [--out FOLDER]`: write the export and print its path."""
    from kiosk.crypto import KeyringUnavailable
    from kiosk.store import StoreError

    parser = argparse.ArgumentParser(
        prog="python -m kiosk.diagnostics", description="export kiosk diagnostics without personal data"
    )
    parser.add_argument("--out", default=None, help="folder for the zip (default: the kiosk data directory)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        store = Store.open()
    except (StoreError, KeyringUnavailable) as exc:
        print(exc.message(), file=sys.stderr)
        return 1
    try:
        print(export_diagnostics(store, Path(args.out) if args.out else None))
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
