"""Jobs a long-running server does once a day (change-log compaction, retention), started by `serve` in its parent
process. Several `serve` processes or hosts on one database run each job once a day between them: before a run, a
process claims it with one conditional UPDATE of `maintenance_runs` (the database decides; nothing is kept in a
process's memory), and only the process whose UPDATE changed the row runs it."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

import sqlalchemy as sa

from township import db

log = logging.getLogger(__name__)
EVERY = dt.timedelta(
    hours=23
)  # a little under a day, so a run that started late does not push the next by a day
CHECK_S = (
    3600.0  # how often a process looks whether a job is due (another process may have died holding the day)
)


def claim(
    database: db.Database, job: str, *, now: dt.datetime | None = None, every: dt.timedelta = EVERY
) -> bool:
    """True when this caller may run `job` now: its last run is `every` or more ago (or it never ran), and this call
    recorded the new run. Of several processes claiming at once exactly one gets True."""
    moment = db.naive(now or db.now_utc())
    t = db.maintenance_runs
    try:
        with database.write() as conn:
            claimed = conn.execute(
                sa.update(t)
                .where(t.c.job == job, t.c.last_run_at <= moment - every)
                .values(last_run_at=moment)
            ).rowcount
            if claimed:
                return True
            if conn.execute(sa.select(t.c.job).where(t.c.job == job)).first() is not None:
                return False
            conn.execute(sa.insert(t).values(job=job, last_run_at=moment))
            return True
    except (
        sa.exc.IntegrityError
    ):  # another process inserted the job's first row at the same moment: it runs it
        return False


def start(
    database: db.Database,
    job: str,
    run: Callable[[], object],
    *,
    check_s: float = CHECK_S,
    every: dt.timedelta = EVERY,
) -> threading.Event:
    """Run `run()` now and then once a day (when this process wins the claim) on a daemon thread; set the returned
    event to stop it. A failing run is logged by exception type only and tried again the next day."""
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                if claim(database, job, every=every):
                    result = run()
                    log.info("%s: done (%s)", job, result)
            except Exception as exc:  # never stop the backend
                log.warning("%s run failed: %s", job, type(exc).__name__)
            if stop.wait(check_s):
                return

    threading.Thread(target=loop, name=f"daily-{job}", daemon=True).start()
    return stop
