"""Console page times on a busy township: 2,000 synced bookings, a real backend (uvicorn on 127.0.0.1, SQLite);
then the county's figures on PostgreSQL: 20 townships, 400 kiosks, 2,000,000 bookings (issue 18).

    tools/with-services.sh .venv/bin/python bench/bench_console.py

Prints `name: value unit` lines: the median time of the review queue (200 rows shown), the schedule week, a day view
and the reports page, each fetched 15 times by a signed-in reviewer, plus the health probe as a baseline.

Then, when `CUNZHAN_TEST_PG_URL` names a PostgreSQL server (tools/with-services.sh starts one), the county's pages:
`county_dashboard_ms` is the median time of the real console request `GET /console/insight` (a signed-in account
whose scope is the whole county; 8 weeks), the slowest of its four groupings (township, village, service, provider),
once the rollup jobs have run (how long each took is printed too); `county_dashboard_query_ms` the same figures read
through `township.insight` alone, and `county_dashboard_plain_ms` those queries with no rollup (the baseline, and
the ratio); then the dashboard by village over 26 weeks (`county_page_dashboard_village_26w_ms`), the
satisfaction page (with its list of low ratings; 12 weeks, and 26 weeks by village and by provider:
`county_page_satisfaction_village_26w_ms`) and the needs page, and their queries; `county_page_*_before_rollup_ms` are pages asked for before
the first rollup (a new database), when every week is counted live. The data set is made on the server
(`generate_series`), not row by row. `BENCH_COUNTY_BOOKINGS=200000` makes a smaller county for development.
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BOOKINGS = 2000
ROUNDS = 15


def _median_ms(session: requests.Session, url: str, rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        response = session.get(url, timeout=120)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times)


def _signed_in(base: str, username: str, township: str = "") -> requests.Session:
    """A console session signed in as `username` (password bench-password-1)."""
    http = requests.Session()
    form = http.get(base + "/console/signin", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    signed = http.post(
        base + "/console/signin",
        timeout=30,
        data={
            "username": username,
            "password": "bench-password-1",
            "csrf_token": token.group(1),
            "township": township,
        },
    )
    # Signed in: on the account's start page (a county account starts on /console/townships), not the form again.
    assert signed.history and "/console/signin" not in signed.url, signed.status_code
    return http


def _serve(app: object) -> tuple[object, threading.Thread, str]:
    """`app` on a free loopback port in a thread: (server, thread, base URL)."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def main() -> None:
    """Seed, serve, measure."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CUNZHAN_HOME"] = tmp
        import sqlalchemy as sa

        from cunzhan import protocol as P
        from cunzhan.identity import id_check_character
        from township import db, services, sync
        from township.app import create_app

        url = f"sqlite:///{tmp}/bench.db"
        app = create_app(url, demo=True)
        database: db.Database = app.state.db
        services.create_staff(database, "demo", "bench", "reviewer", "bench-password-1")
        code = services.create_enrollment_code(database, "demo")
        enrolled = sync.enroll(
            database, P.EnrollRequest(enrollment_code=code, kiosk_name="bench", app_version="b")
        )
        device = sync.authenticate(database, "Bearer " + enrolled["device_token"])
        with database.read() as conn:
            sessions = [
                r.id
                for r in conn.execute(
                    sa.select(db.sessions.c.id)
                    .where(db.sessions.c.starts_at > db.naive(db.now_utc()))
                    .order_by(db.sessions.c.starts_at)
                )
            ]
        ops = []
        for n in range(BOOKINGS):
            first17 = f"3301061950{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
            ops.append(
                {
                    "op_id": str(uuid.uuid4()),
                    "device_seq": n + 1,
                    "entity": "booking",
                    "entity_id": str(uuid.uuid4()),
                    "kind": "create",
                    "base_version": None,
                    "payload": {
                        "session_id": sessions[n % len(sessions)],
                        "code": f"B{n:07d}",
                        "resident": {
                            "id": str(uuid.uuid4()),
                            "name": "居民",
                            "phone": "13900000000",
                            "id_number": first17 + id_check_character(first17),
                            "village": "上坪村",
                        },
                        "for_dependent": None,
                        "channel": "self",
                        "staff_id": None,
                        "lease": False,
                        "waitlist": True,
                    },
                    "created_at": "2026-01-01T00:00:00+00:00",
                }
            )
        for chunk in range(0, len(ops), 400):
            sync.push(database, device, {"device_id": device.id, "ops": ops[chunk : chunk + 400]})
        server, thread, base = _serve(app)
        http = _signed_in(base, "bench")
        print(f"health_probe_median: {_median_ms(http, base + '/v1/health'):.1f} ms")
        print(f"review_queue_median: {_median_ms(http, base + '/console/review?status='):.1f} ms")
        print(f"waiting_lists_median: {_median_ms(http, base + '/console/waitlist'):.1f} ms")
        print(f"schedule_week_median: {_median_ms(http, base + '/console/schedule'):.1f} ms")
        print(f"day_view_median: {_median_ms(http, base + '/console/sessions/' + sessions[0]):.1f} ms")
        print(f"reports_median: {_median_ms(http, base + '/console/reports'):.1f} ms")
        print(f"bookings_in_township: {BOOKINGS} count")
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(timeout=10)
        database.dispose()
    county_dashboard()


# --- the county's figures on PostgreSQL (issue 18) -------------------------------------------------------------------

TOWNSHIPS = 20
KIOSKS_PER_TOWNSHIP = 20  # 400 kiosks
VILLAGES_PER_TOWNSHIP = 20
SERVICES_PER_TOWNSHIP = 10  # one session of each a day, each with its own provider
COUNTY_BOOKINGS = int(os.environ.get("BENCH_COUNTY_BOOKINGS", "2000000"))
RESIDENTS_PER_TOWNSHIP = 10_000
WEEKS = 52
DAYS = WEEKS * 7
UNMET_EVENTS = 50_000


def _county_data(conn: object, this_monday: object) -> None:
    """The county, generated on the server: 20 townships × 20 villages, 400 kiosks, 72,800 sessions over the last
    52 weeks (the current one included), 200,000 residents, 2,000,000 bookings, ratings for a fifth of those
    attended, 50,000 unmet-demand events."""
    import sqlalchemy as sa

    run = conn.execute  # type: ignore[attr-defined]
    args = {
        "t": TOWNSHIPS,
        "k": KIOSKS_PER_TOWNSHIP,
        "v": VILLAGES_PER_TOWNSHIP,
        "s": SERVICES_PER_TOWNSHIP,
        "d": DAYS,
        "r": RESIDENTS_PER_TOWNSHIP,
        "n": COUNTY_BOOKINGS,
        "u": UNMET_EVENTS,
        "w": WEEKS,
        # Local midnight of the first day, as naive UTC (Asia/Shanghai is UTC+8, no summer time).
        "first": this_monday,
    }
    statements = [
        "INSERT INTO counties (id, slug, name, zone, locale, created_at) "
        "VALUES ('c', 'bench-county', '基准县', 'Asia/Shanghai', 'zh_CN', now())",
        "INSERT INTO townships (id, slug, name, cursor_secret, created_at, county_id) "
        "SELECT 't' || t, 'bench-' || t, '第' || t || '镇', md5(t::text), now(), 'c' "
        "FROM generate_series(0, :t - 1) t",
        "INSERT INTO villages (id, township_id, name) SELECT 't' || t || 'v' || v, 't' || t, '第' || v || '村' "
        "FROM generate_series(0, :t - 1) t, generate_series(0, :v - 1) v",
        "INSERT INTO services (id, township_id, kind, name, updated_at) "
        "SELECT 't' || t || 's' || s, 't' || t, CASE WHEN s % 3 = 0 THEN 'school' ELSE 'clinic' END, "
        "'服务' || s, now() FROM generate_series(0, :t - 1) t, generate_series(0, :s - 1) s",
        "INSERT INTO providers (id, township_id, name, updated_at) "
        "SELECT 't' || t || 'p' || s, 't' || t, '医生' || s, now() "
        "FROM generate_series(0, :t - 1) t, generate_series(0, :s - 1) s",
        "INSERT INTO devices (id, township_id, kiosk_number, name, token_hash, created_at) "
        "SELECT 't' || t || 'k' || k, 't' || t, k + 1, '终端' || k, md5('t' || t || 'k' || k), now() "
        "FROM generate_series(0, :t - 1) t, generate_series(0, :k - 1) k",
        "INSERT INTO sessions (id, township_id, service_id, provider_id, starts_at, ends_at, capacity, updated_at) "
        "SELECT 't' || t || 'd' || d || 's' || s, 't' || t, 't' || t || 's' || s, 't' || t || 'p' || s, "
        "CAST(:first AS timestamp) - (:w - 1) * interval '1 week' + d * interval '1 day' + (8 + s) * interval '1 hour', "
        "CAST(:first AS timestamp) - (:w - 1) * interval '1 week' + d * interval '1 day' + (9 + s) * interval '1 hour', "
        "40, now() FROM generate_series(0, :t - 1) t, generate_series(0, :d - 1) d, generate_series(0, :s - 1) s",
        "INSERT INTO residents (id, township_id, id_blind, id_number_enc, id_mask, name_enc, village, created_at, "
        "updated_at) SELECT 'r' || g, 't' || (g % :t), md5('r' || g), 'x', '', 'x', "
        "'第' || ((g / :t) % :v) || '村', now(), now() FROM generate_series(0, :t * :r - 1) g",
        # Booking g: township g % t, day (g / t) % d, service (g / (t * d)) % s; a resident of that township.
        "INSERT INTO bookings (id, township_id, session_id, resident_id, code, status, device_id, kiosk_number, "
        "contact_village, created_at, updated_at) "
        "SELECT 'b' || g, 't' || (g % :t), "
        "'t' || (g % :t) || 'd' || ((g / :t) % :d) || 's' || ((g / (:t * :d)) % :s), "
        "'r' || (g % :t + :t * ((g * 7919) % :r)), 'B' || g, "
        "CASE WHEN (g * 31) % 100 < 70 THEN 'attended' WHEN (g * 31) % 100 < 80 THEN 'no_show' "
        "WHEN (g * 31) % 100 < 90 THEN 'confirmed' WHEN (g * 31) % 100 < 95 THEN 'cancelled' ELSE 'waitlisted' END, "
        "'t' || (g % :t) || 'k' || (g % :k), g % :k + 1, "
        "'第' || (((g % :t + :t * ((g * 7919) % :r)) / :t) % :v) || '村', now(), now() "
        "FROM generate_series(0, :n - 1) g",
        "INSERT INTO feedback (id, township_id, booking_id, rating, reasons, created_at) "
        "SELECT 'f' || substr(b.id, 2), b.township_id, b.id, 1 + (substr(b.id, 2)::int * 13) % 5, "
        "CAST('[\"I waited too long\"]' AS json), s.ends_at "
        "FROM bookings b JOIN sessions s ON s.id = b.session_id "
        "WHERE b.status = 'attended' AND substr(b.id, 2)::int % 5 = 0",
        "INSERT INTO unmet_demand (id, township_id, village, service_id, session_id, provider_id, week, weekday, "
        "band, reason, at) SELECT 'u' || g, 't' || (g % :t), '第' || ((g / :t) % :v) || '村', "
        "'t' || (g % :t) || 's' || (g % :s), NULL, 't' || (g % :t) || 'p' || (g % :s), "
        "CAST(:first AS date) + 1 - ((g / 7) % :w) * interval '1 week', g % 7, "
        "CASE WHEN g % :s < 4 THEN 'morning' ELSE 'afternoon' END, "
        "CASE WHEN g % 3 = 0 THEN 'waitlisted' ELSE 'slot_full' END, now() FROM generate_series(0, :u - 1) g",
    ]
    for statement in statements:
        # Every count as bigint: PostgreSQL would take small ones as smallint, and g * 7919 overflows an int.
        run(sa.text(re.sub(r":([tkvsdrnuw])\b", r"CAST(:\1 AS bigint)", statement)), args)


def _ms(fn: object, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def county_dashboard() -> None:
    """The county's figures on a fresh PostgreSQL database (skipped, with a note, without one)."""
    admin_url = os.environ.get("CUNZHAN_TEST_PG_URL")
    if not admin_url:
        print("# county_dashboard_ms: skipped (no CUNZHAN_TEST_PG_URL; run under tools/with-services.sh)")
        return
    import datetime as dt

    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from township import db, services
    from township.insight import dashboard, needs, satisfaction
    from township.insight.scope import Scope, monday

    name = f"cz_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        db.migrate(url)
        database = db.Database(url, pool_size=2)
        today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
        this_monday = monday(today)
        # Local midnight of this Monday, as naive UTC.
        first = dt.datetime.combine(this_monday, dt.time()) - dt.timedelta(hours=8)
        start = time.perf_counter()
        with database.write() as conn:
            _county_data(conn, first)
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
        generated = time.perf_counter() - start
        with database.read() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(db.bookings)).scalar_one()
        county = Scope.county("c")
        groupings = ("township", "village", "service", "provider")

        def page(by: str) -> None:
            with database.read() as conn:
                dashboard.weekly(conn, county, by, weeks=8)  # type: ignore[arg-type]

        plain = max(_ms(lambda by=by: page(by), 3) for by in groupings)  # nothing rolled up: all counted live
        # What a county account sees after a fresh start, before the first rollup has run: the pages count live.
        services.create_county_admin(database, "bench-county", "county", "bench-password-1")
        before = _county_pages(url, rounds=3, only=("by_township", "satisfaction"))
        start = time.perf_counter()
        weeks = dashboard.refresh_closed_weeks(database)
        backfill = time.perf_counter() - start
        start = time.perf_counter()
        dashboard.refresh_open_weeks(database)
        open_weeks = time.perf_counter() - start
        each = {by: _ms(lambda by=by: page(by), ROUNDS) for by in groupings}
        rolled = max(each.values())
        since = db.now_utc() - dt.timedelta(weeks=4)

        def read(fn: object) -> float:
            def once() -> None:
                with database.read() as conn:
                    fn(conn)  # type: ignore[operator]

            return _ms(once, ROUNDS)

        pages = _county_pages(url)
        print(f"county_bookings: {count} count")
        print(f"county_data_generated: {generated:.1f} s")
        print(f"county_dashboard_ms: {max(pages[f'by_{by}'] for by in groupings):.1f} ms")
        for name, value in pages.items():
            print(f"county_page_{name}_ms: {value:.1f} ms")
        for name, value in before.items():
            print(f"county_page_{name}_before_rollup_ms: {value:.1f} ms")
        print(f"county_dashboard_plain_ms: {plain:.1f} ms")
        print(f"county_dashboard_query_ms: {rolled:.1f} ms")
        for by, value in each.items():
            print(f"county_dashboard_query_by_{by}_ms: {value:.1f} ms")
        print(f"county_dashboard_speedup: {plain / rolled:.1f} x")
        print(f"county_needs_profile_ms: {read(lambda c: needs.needs_profile(c, county, weeks=4)):.1f} ms")
        print(
            "county_satisfaction_index_ms: "
            f"{read(lambda c: satisfaction.satisfaction_index(c, county, 'provider', weeks=12)):.1f} ms"
        )
        print(
            f"county_low_ratings_ms: {read(lambda c: satisfaction.low_ratings(c, county, since=since)):.1f} ms"
        )
        # The 26-week pages' queries (a county by village: 10,400 village weeks).
        since_26 = db.now_utc() - dt.timedelta(weeks=26)
        print(
            "county_dashboard_query_village_26w_ms: "
            f"{read(lambda c: dashboard.weekly(c, county, 'village', weeks=26)):.1f} ms"
        )
        print(
            "county_satisfaction_index_village_26w_ms: "
            f"{read(lambda c: satisfaction.satisfaction_index(c, county, 'village', weeks=26)):.1f} ms"
        )
        print(
            "county_low_ratings_26w_ms: "
            f"{read(lambda c: satisfaction.low_ratings(c, county, since=since_26)):.1f} ms"
        )
        print(f"county_rollup_first_run: {backfill:.1f} s")
        print(f"county_rollup_township_weeks: {weeks} count")
        print(f"county_rollup_open_weeks_run: {open_weeks:.1f} s")
        database.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


COUNTY_PAGES = {
    **{f"by_{by}": f"/console/insight?by={by}" for by in ("township", "village", "service", "provider")},
    "dashboard_village_26w": "/console/insight?by=village&weeks=26",  # 400 villages × 26 weeks in its table
    "satisfaction": "/console/insight/satisfaction?by=village",  # 12 weeks, with the low ratings to follow up
    "satisfaction_village_26w": "/console/insight/satisfaction?by=village&weeks=26",
    "satisfaction_provider_26w": "/console/insight/satisfaction?by=provider&weeks=26",
    "needs": "/console/insight/needs",
}


def _county_pages(url: str, *, rounds: int = ROUNDS, only: tuple[str, ...] = ()) -> dict[str, float]:
    """The median times of the county's console pages (`only`: just these), fetched by the county's account."""
    from township.app import create_app, settle_heap

    app = create_app(url, migrate=False)
    settle_heap()  # as `serve` does before serving
    server, thread, base = _serve(app)
    try:
        http = _signed_in(base, "county", "bench-county")
        shown = http.get(base + "/console/insight", timeout=120).text
        assert "第19镇" in shown and "第0镇" in shown, "the county's page must show all its townships"
        return {
            name: _median_ms(http, base + path, rounds)
            for name, path in COUNTY_PAGES.items()
            if not only or name in only
        }
    finally:
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(timeout=10)
        app.state.db.dispose()


if __name__ == "__main__":
    main()
