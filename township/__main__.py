"""Command line of the township backend (SYNC.md):

    python -m township serve [--db URL] [--host 127.0.0.1] [--port 8700] [--demo] [--workers N]
    python -m township create-township [--db URL] --slug SLUG --name NAME [--zone Asia/Shanghai] [--locale zh_CN]
                                       [--county SLUG]
    python -m township create-county [--db URL] --slug SLUG --name NAME [--zone Asia/Shanghai] [--locale zh_CN]
    python -m township create-county-admin [--db URL] --county SLUG --username NAME     # password on stdin
    python -m township enrollment-code [--db URL] --township SLUG        # prints the code as the last line
    python -m township create-staff [--db URL] --township SLUG --username NAME --role reviewer|admin  # password on stdin
    python -m township compact-log [--db URL] [--keep-days 30]      # `serve` does it daily
    python -m township backup [--db URL] --out FILE        # SQLite online backup / pg_dump (township.backup)
    python -m township restore [--db URL] --from FILE      # the backend must be stopped
    python -m township retention [--db URL]       # erase residents with no session for N months (serve does it daily)
    python -m township sms-settings [--db URL] --township SLUG --provider off|tencent|http …  # credentials on stdin

`--db` defaults to SQLite under `$CUNZHAN_HOME/township/` (else the platform data directory).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import sys
from typing import Any

from cunzhan.i18n import LOCALES
from township import db


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m township", description="Cunzhan township backend")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the backend (sync API and staff console)")
    serve.add_argument("--db", default=None, help="database URL (default: SQLite in the data directory)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8700)
    serve.add_argument("--demo", action="store_true", help="seed the demo township (slug 'demo')")
    serve.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="worker processes on one port (uvicorn's supervisor), for PostgreSQL; default 1",
    )

    town = sub.add_parser("create-township", help="create a township (nothing happens if its slug exists)")
    town.add_argument("--db", default=None)
    town.add_argument("--slug", required=True)
    town.add_argument("--name", required=True)
    town.add_argument(
        "--zone",
        type=_zone,
        default="Asia/Shanghai",
        help="IANA time zone its staff and residents live in (the console shows and reads times in it)",
    )
    town.add_argument("--locale", default="zh_CN", choices=LOCALES, help="language of messages to residents")
    town.add_argument(
        "--county", default=None, metavar="SLUG", help="the county above it (create-county first)"
    )

    _county_commands(sub)

    code = sub.add_parser("enrollment-code", help="make a single-use kiosk enrolment code (valid 24 h)")
    code.add_argument("--db", default=None)
    code.add_argument("--township", required=True, metavar="SLUG")

    staff = sub.add_parser("create-staff", help="create a staff account; the password is read from stdin")
    staff.add_argument("--db", default=None)
    staff.add_argument("--township", required=True, metavar="SLUG")
    staff.add_argument("--username", required=True)
    staff.add_argument("--role", required=True, choices=("reviewer", "admin"))

    compact = sub.add_parser(
        "compact-log",
        help="keep only each entity's latest change beyond the horizon "
        "(older kiosk cursors then get a fresh snapshot)",
    )
    compact.add_argument("--db", default=None)
    compact.add_argument("--keep-days", type=_keep_days, default=30, metavar="DAYS")
    save = sub.add_parser("backup", help="write a backup of the database (personal fields stay encrypted)")
    save.add_argument("--db", default=None)
    save.add_argument("--out", required=True, metavar="FILE")
    back = sub.add_parser("restore", help="replace the database with a backup (stop the backend first)")
    back.add_argument("--db", default=None)
    back.add_argument("--from", dest="source", required=True, metavar="FILE")
    keep = sub.add_parser(
        "retention", help="erase the personal data of residents with no session for N months"
    )
    keep.add_argument("--db", default=None)
    sms = sub.add_parser(
        "sms-settings",
        help="how a township sends SMS to residents (docs/notifications.md); credentials are read from stdin, "
        "one per line (Tencent: SecretId then SecretKey; HTTP gateway: its shared secret)",
    )
    sms.add_argument("--db", default=None)
    sms.add_argument("--township", required=True, metavar="SLUG")
    sms.add_argument("--provider", required=True, choices=("off", "tencent", "http"))
    sms.add_argument("--app-id", default="", help="Tencent SmsSdkAppId")
    sms.add_argument("--sign-name", default="", help="Tencent: the approved signature (签名)")
    sms.add_argument("--region", default="ap-guangzhou")
    sms.add_argument("--template", action="append", default=[], metavar="KIND=ID", help="Tencent template id")
    sms.add_argument("--url", default="", help="HTTP gateway: https:// address")
    sms.add_argument(
        "--quiet", default="21:00-08:00", metavar="FROM-UNTIL", help="quiet hours, township time"
    )
    sms.add_argument("--keep-secret", action="store_true", help="keep the credentials saved before")
    return parser


def _county_commands(sub: Any) -> None:
    """The county above townships (#18): a county, and its first administrator (who creates townships and their
    administrators in the console)."""
    county = sub.add_parser("create-county", help="create a county (nothing happens if its slug exists)")
    county.add_argument("--db", default=None)
    county.add_argument("--slug", required=True, help="also what its accounts type at sign-in")
    county.add_argument("--name", required=True)
    county.add_argument("--zone", type=_zone, default="Asia/Shanghai", help="IANA time zone of its pages")
    county.add_argument("--locale", default="zh_CN", choices=LOCALES)
    chief = sub.add_parser(
        "create-county-admin",
        help="create a county administrator (creates townships and their administrators in the console); "
        "the password is read from stdin",
    )
    chief.add_argument("--db", default=None)
    chief.add_argument("--county", required=True, metavar="SLUG")
    chief.add_argument("--username", required=True)


# Longer than the Retry-After of a 503 (5 s), so a kiosk told to come back finds its connection still open (with
# uvicorn's default of 5 s the two race, and the kiosk's retry meets a reset connection).
KEEP_ALIVE_S = 15


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError("--workers must be a whole number from 1 to 64")
    return value


def _zone(text: str) -> str:
    # The console's check (`services.checked_zone`), here at parse time.
    from cunzhan.zones import is_zone

    if not is_zone(text):
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise argparse.ArgumentTypeError(
            f"--zone must be an IANA time zone such as Asia/Shanghai, not {shown!r}"
        )
    return text


def _keep_days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 3650:
        raise argparse.ArgumentTypeError("--keep-days must be a whole number of days from 1 to 3650")
    return int(text)


def _compact(url: str, keep_days: int) -> int:
    from township.booking import compact_changes

    database = db.Database(url, pool_size=2)
    try:
        removed = compact_changes(database, horizon=dt.timedelta(days=keep_days))
    finally:
        database.dispose()
    return sum(removed.values())


def _read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\r\n")


def _backup_or_restore(args: argparse.Namespace, url: str) -> int:
    from pathlib import Path

    from township.backup import BackupError, backup, restore

    try:
        if args.command == "backup":
            backup(url, Path(args.out))
            print(f"backup written to {args.out}")
        else:
            restore(url, Path(args.source))
            db.migrate(url)  # a backup from an older version is brought up to date
            print(f"database restored from {args.source}")
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point (`cunzhan-township`)."""
    args = _parser().parse_args(argv)
    url = args.db or db.default_url()
    if args.command == "serve":
        import uvicorn

        from township import daily
        from township.app import WORKER_DB_ENV, create_app, settle_heap
        from township.attendance import mark_no_shows
        from township.booking import compact_changes
        from township.insight.dashboard import start_jobs as insight_jobs
        from township.notify import service as notify_service
        from township.retention import start_daily

        db.migrate(url)
        # Daily jobs, in this (the parent) process only, each run once a day between all processes on the database
        # (township.daily): residents' data past the retention period, and change-log compaction.
        maintenance = db.Database(url, pool_size=2)
        start_daily(maintenance)
        daily.start(maintenance, "compact-log", lambda: sum(compact_changes(maintenance).values()))
        # Residents' SMS (township.notify) every 30 s, and confirmed bookings never checked in marked no_show every
        # 10 minutes (township.attendance); several processes share both (row claims / a maintenance_runs claim).
        notify_service.start(maintenance)
        insight_jobs(maintenance)  # the county dashboard's weekly rollup (township.insight.dashboard)
        daily.start(
            maintenance,
            "no-shows",
            lambda: mark_no_shows(maintenance),
            check_s=300.0,
            every=dt.timedelta(minutes=10),
        )
        banner = f"township backend on http://{args.host}:{args.port}/ (database: {url.split('://', 1)[0]}"
        if args.workers == 1:
            app = create_app(url, demo=args.demo)
            settle_heap()
            print(banner + ")", flush=True)
            uvicorn.run(
                app,
                host=args.host,
                port=args.port,
                log_level="warning",
                timeout_graceful_shutdown=5,
                timeout_keep_alive=KEEP_ALIVE_S,
            )
            return 0
        # Several processes on one listening socket: migrate and seed once here, then each worker builds its app
        # from the URL (nothing correct lives in a process's memory: see docs/sync.md, "Several processes").
        create_app(url, demo=args.demo, console=False).state.db.dispose()
        os.environ[WORKER_DB_ENV] = url
        print(banner + f", {args.workers} worker processes)", flush=True)
        uvicorn.run(
            "township.app:worker_app",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level="warning",
            timeout_graceful_shutdown=5,
            timeout_keep_alive=KEEP_ALIVE_S,
        )
        return 0

    if args.command in ("backup", "restore"):
        return _backup_or_restore(args, url)

    db.migrate(url)
    if args.command == "compact-log":
        print(f"removed {_compact(url, args.keep_days)} superseded changes older than {args.keep_days} days")
        return 0
    database = db.Database(url, pool_size=2)
    try:
        return _staff_command(args, database)
    finally:
        database.dispose()


def _staff_command(args: argparse.Namespace, database: db.Database) -> int:
    """The commands that act on a township through `township.services` (the console's staff actions)."""
    from township import services

    if args.command == "retention":
        from township.retention import erase_inactive

        print(f"erased the personal data of {erase_inactive(database)} residents")
        return 0
    if args.command == "sms-settings":
        return _sms_settings(args, database)
    try:
        if args.command == "create-township":
            county = services.county_id(database, args.county) if args.county else None
            ident = services.create_township(
                database, args.slug, args.name, locale=args.locale, zone=args.zone, county=county
            )
            print(f"township {args.slug} ({args.zone}): {ident}")
            return 0
        if args.command == "create-county":
            ident = services.create_county(database, args.slug, args.name, locale=args.locale, zone=args.zone)
            print(f"county {args.slug} ({args.zone}): {ident}")
            return 0
        if args.command == "create-county-admin":
            services.create_county_admin(database, args.county, args.username, _read_password())
            print(f"created county administrator {args.username} in {args.county}")
            return 0
    except services.ServiceError as exc:
        print(f"error: {exc.message()}", file=sys.stderr)
        return 1
    if args.command == "enrollment-code":
        try:
            code = services.create_enrollment_code(database, args.township)
        except services.ServiceError as exc:
            print(f"error: {exc.message()} ({args.township})", file=sys.stderr)
            return 1
        print(f"Enrolment code for township {args.township}, single use, valid 24 hours:")
        print(code)
        return 0
    password = _read_password()
    try:
        services.create_staff(database, args.township, args.username, args.role, password)
    except services.ServiceError as exc:
        print(f"error: {exc.message()}", file=sys.stderr)
        return 1
    print(f"created {args.role} {args.username} in {args.township}")
    return 0


def _sms_settings(args: argparse.Namespace, database: db.Database) -> int:
    from township.notify.service import SECRET, SettingsError, save_settings
    from township.services import ServiceError, township_id

    try:
        tid = township_id(database, args.township)
    except ServiceError as exc:
        print(f"error: {exc.message()} ({args.township})", file=sys.stderr)
        return 1
    templates = dict(item.split("=", 1) for item in args.template if "=" in item)
    config = {
        "sdk_app_id": args.app_id,
        "sign_name": args.sign_name,
        "region": args.region,
        "template_ids": templates,
        "url": args.url,
    }
    secret = None
    if args.provider != "off" and not args.keep_secret:
        values = [_read_password() for _ in SECRET[args.provider]]
        secret = dict(zip(SECRET[args.provider], values, strict=True))
    quiet_from, _sep, quiet_until = args.quiet.partition("-")
    try:
        with database.write() as conn:
            save_settings(
                conn,
                tid,
                provider=args.provider,
                config=config,
                secret=secret,
                quiet_from=quiet_from,
                quiet_until=quiet_until,
            )
    except SettingsError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(
        f"SMS for {args.township}: {args.provider} (credentials are stored encrypted and never shown again)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
