"""`python -m kiosk COMMAND`: run, demo, screenshots, doctor, enroll, seed-demo, staff."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any


def _add_run(sub: Any) -> None:
    run = sub.add_parser("run", help="open the kiosk window on the home screen")
    run.add_argument(
        "--demo", action="store_true", help="load the demo township's schedule if the store is empty"
    )
    run.add_argument("--profile", default=None, help="accessibility profile, e.g. elder or elder+hearing")
    run.add_argument(
        "--fullscreen", action="store_true", help="full screen, locked down (staff PIN to leave)"
    )
    run.add_argument(
        "--quit-after-ready",
        action="store_true",
        help="exit 0 once the home screen is shown and accepts input, printing the start-up time",
    )
    run.add_argument("--practice", action="store_true", help="practice mode: nothing stored or synced")
    run.add_argument(
        "--display",
        action="store_true",
        help="also show the waiting-room display (calls by number), on the second screen when there is one",
    )


def _add_demo(sub: Any) -> None:
    demo = sub.add_parser("demo", help="the whole loop on one machine: local backend, enrolment, sync, kiosk")
    demo.add_argument("--port", type=int, default=0, help="port for the local township backend (0: any free)")
    demo.add_argument(
        "--no-window", action="store_true", help="render screenshots instead of opening a window"
    )


def _add_screenshots(sub: Any) -> None:
    shots = sub.add_parser("screenshots", help="render every screen of the journey to PNG files, offscreen")
    shots.add_argument("--out", required=True, help="folder for <profile>-<screen>.png")
    shots.add_argument(
        "--profile",
        nargs="+",
        action="extend",
        default=None,
        help="profiles to render, repeatable: --profile standard --profile elder (default: all)",
    )


def _add_doctor(sub: Any) -> None:
    sub.add_parser("doctor", help="check fonts, speech, voice model, keyring, database and township link")


def _add_enroll(sub: Any) -> None:
    enroll = sub.add_parser("enroll", help="enrol this kiosk with a township backend")
    enroll.add_argument(
        "--server", required=True, help="township backend address, e.g. https://hall.example:8700"
    )
    enroll.add_argument("--code", required=True, help="enrolment code from the township console")
    enroll.add_argument(
        "--name", default=None, help="kiosk name (default: the kiosk_name setting or host name)"
    )


def _add_diagnostics(sub: Any) -> None:
    diag = sub.add_parser(
        "diagnostics", help="export logs and state for the township technician, without personal data"
    )
    diag.add_argument("--out", default=None, help="folder for the zip (default: the kiosk data directory)")


def _add_seed_demo(sub: Any) -> None:
    sub.add_parser("seed-demo", help="put the demo township's schedule into the local store (offline demo)")


def _add_staff(sub: Any) -> None:
    from kiosk.staff.cli import add_staff_parser

    add_staff_parser(sub)  # `staff add|reset-pin|list`: at the machine's console only


_COMMANDS: dict[str, Callable[[Any], None]] = {
    "run": _add_run,
    "demo": _add_demo,
    "screenshots": _add_screenshots,
    "doctor": _add_doctor,
    "enroll": _add_enroll,
    "diagnostics": _add_diagnostics,
    "seed-demo": _add_seed_demo,
    "staff": _add_staff,
}


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with `only`, just that command's part (argparse builds each subcommand eagerly, and the
    kiosk's start-up should not pay for the other seven)."""
    parser = argparse.ArgumentParser(prog="python -m kiosk", description="Cunzhan village service kiosk")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, add in _COMMANDS.items():
        if only is None or name == only:
            add(sub)
    return parser


def _dispatch(command: str) -> Callable[[argparse.Namespace], int]:
    if command == "run":
        from kiosk.ui.app import run_command

        return run_command
    if command == "screenshots":
        from kiosk.ui.screenshots import screenshots_command

        return screenshots_command
    if command == "doctor":
        from kiosk.doctor import doctor_command

        return doctor_command
    if command == "enroll":
        from kiosk.sync.enroll import enroll_command

        return enroll_command
    if command == "demo":
        from kiosk.demo_loop import demo_command

        return demo_command
    if command == "diagnostics":
        from kiosk.diagnostics import main as diagnostics_main

        return lambda args: diagnostics_main(["--out", args.out] if args.out else [])
    if command == "staff":
        from kiosk.staff.console import staff_command

        return staff_command
    if command == "seed-demo":
        from kiosk.seed import seed_command

        return seed_command
    raise SystemExit(f"unknown command {command}")


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    args = _parser(words[0] if words and words[0] in _COMMANDS else None).parse_args(words)
    return _dispatch(args.command)(args)


if __name__ == "__main__":
    raise SystemExit(main())
