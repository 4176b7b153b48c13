"""`python -m kiosk doctor`: check what the kiosk needs and say plainly what is missing and how to fix it.

Each check is a function returning a `Finding`. Checks never raise: a broken part is a finding, not a traceback.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cunzhan.i18n import N_, gettext


@dataclass(frozen=True, slots=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""


Check = Callable[[], Finding]
CHECKS: list[Check] = []


def check(fn: Check) -> Check:
    """Register a doctor check (in the order they are declared)."""
    CHECKS.append(fn)
    return fn


@check
def fonts() -> Finding:
    name = gettext(N_("Chinese fonts"))
    if not shutil.which("fc-list"):
        return Finding(
            name,
            False,
            gettext(N_("fontconfig is not installed")),
            gettext(N_("Install fontconfig and fonts-noto-cjk.")),
        )
    out = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
    ).stdout
    families = sorted({line.split(",")[0].strip() for line in out.splitlines() if line.strip()})
    if not families:
        return Finding(
            name,
            False,
            gettext(N_("no font can show Chinese characters")),
            gettext(N_("Install a CJK font, for example: apt-get install fonts-noto-cjk")),
        )
    return Finding(name, True, ", ".join(families[:3]))


@check
def speech_voice() -> Finding:
    from kiosk.accessibility.speech import find_mandarin_voice

    name = gettext(N_("Mandarin speech voice"))
    voice, problem = find_mandarin_voice()
    if voice:
        return Finding(name, True, voice)
    return Finding(
        name,
        False,
        problem,
        gettext(
            N_("Install espeak-ng (Linux: apt-get install espeak-ng) or a Chinese SAPI5 voice (Windows).")
        ),
    )


@check
def voice_model() -> Finding:
    name = gettext(N_("Voice command model"))
    from kiosk import settings as s
    from kiosk.settings import Settings

    stored = _stored_settings()
    path = Settings(stored).get(s.VOICE_MODEL_PATH)
    try:
        import vosk  # noqa: F401
    except ImportError:
        return Finding(
            name,
            False,
            gettext(N_("the Vosk library is not installed")),
            gettext(N_("Install it: pip install vosk")),
        )
    if not path:
        return Finding(
            name,
            False,
            gettext(N_("no voice model folder is set; voice commands are off")),
            gettext(N_("Copy a Vosk Chinese model to the kiosk and set voice_model_path in staff settings.")),
        )
    if not (Path(path) / "am").exists() and not (Path(path) / "conf").exists():
        return Finding(
            name,
            False,
            gettext(N_("the folder {path} is not a Vosk model")).format(path=path),
            gettext(N_("Point voice_model_path at the unpacked model folder.")),
        )
    return Finding(name, True, path)


@check
def keyring_backend() -> Finding:
    from kiosk.crypto import keyring_status

    name = gettext(N_("Secure keyring"))
    ok, detail = keyring_status()
    if ok:
        return Finding(name, True, detail)
    return Finding(
        name,
        False,
        detail,
        gettext(
            N_(
                "Start the system keyring service (gnome-keyring on Linux, Credential Manager on "
                "Windows). Without it the kiosk cannot protect residents' data."
            )
        ),
    )


@check
def database() -> Finding:
    from cunzhan import paths
    from kiosk.crypto import KeyringUnavailable
    from kiosk.store import Store, StoreError

    name = gettext(N_("Kiosk database"))
    path = paths.database_path()
    try:
        store = Store.open(path)
    except (StoreError, KeyringUnavailable) as exc:
        return Finding(
            name, False, exc.message(), gettext(N_("Ask the township technician; the file is kept."))
        )
    try:
        verdict = store.integrity_check()
        if verdict != "ok":
            return Finding(
                name, False, verdict, gettext(N_("Ask the township technician; the file is kept."))
            )
        pending = store.pending_count()
    finally:
        store.close()
    return Finding(
        name,
        True,
        gettext(N_("{path}: intact, {pending} changes waiting to sync")).format(path=path, pending=pending),
    )


def _stored_settings() -> dict[str, str]:
    from kiosk.crypto import KeyringUnavailable
    from kiosk.store import Store, StoreError

    try:
        store = Store.open()
    except (StoreError, KeyringUnavailable):
        return {}
    try:
        return store.stored_settings()
    finally:
        store.close()


def run_checks() -> list[Finding]:
    findings = []
    for fn in CHECKS:
        try:
            findings.append(fn())
        except Exception as exc:
            findings.append(Finding(fn.__name__, False, f"{type(exc).__name__}: {exc}"))
    return findings


def doctor_command(args: argparse.Namespace) -> int:
    """Print one line per check; exit 1 when something needs fixing."""
    try:
        import kiosk.sync.doctor_checks  # noqa: F401 - registers the township link checks when present
    except ImportError:
        pass
    findings = run_checks()
    for f in findings:
        mark = "OK " if f.ok else "!! "
        print(f"{mark}{f.name}: {f.detail}")
        if not f.ok and f.fix:
            print(f"   → {f.fix}")
    return 0 if all(f.ok for f in findings) else 1
