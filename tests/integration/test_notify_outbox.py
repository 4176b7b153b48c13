"""The notification outbox on both databases (township.notify): queued in a transaction, sent once through the real
Tencent Cloud SDK to the stand-in provider, quiet hours, retries with backoff, a crash while sending, two senders
at once, reminders, and credentials that never come back out."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration.conftest import Backend
from tests.sms_standin import StandIn
from township.notify.messages import Kind

pytestmark = pytest.mark.usefixtures("keyring_ready")

PHONE = "13912345678"
SECRET_KEY = "standin-secret-key"


@pytest.fixture
def standin() -> Iterator[StandIn]:
    server = StandIn(templates={"2001": 3, "2002": 3, "2003": 3, "2004": 3}).start()
    yield server
    server.stop()


@pytest.fixture
def sms(any_backend: Backend, standin: StandIn) -> Iterator[StandIn]:
    """The demo township sends through the stand-in (Tencent), with no quiet hours unless a test sets them."""
    configure(any_backend, standin)
    yield standin
    from township import db

    with any_backend.database.write() as conn:  # the next test starts with an empty outbox
        conn.execute(sa.delete(db.notifications))
        conn.execute(sa.delete(db.notify_settings))


def configure(backend: Backend, standin: StandIn, *, quiet: tuple[str, str] = ("00:00", "00:00")) -> None:
    from township.notify.service import save_settings

    with backend.database.write() as conn:
        save_settings(
            conn,
            backend.township_id(),
            provider="tencent",
            config={
                "sdk_app_id": standin.sdk_app_id,
                "sign_name": standin.sign_name,
                "endpoint": standin.endpoint,
                "scheme": "http",
                "template_ids": {"confirmed": "2001", "reminder_day": "2002", "reminder_soon": "2003"},
            },
            secret={"secret_id": standin.secret_id, "secret_key": SECRET_KEY},
            quiet_from=quiet[0],
            quiet_until=quiet[1],
        )


def booking(backend: Backend, *, phone: str | None = PHONE, starts_in: dt.timedelta | None = None) -> Any:
    from township import booking as B

    session = backend.new_session(starts_in=starts_in)
    result = backend.enroll().book(session, phone=phone)
    assert result["outcome"] == "applied", result
    with backend.database.read() as conn:
        return B.get_booking(conn, result["booking"]["id"])


def queue(backend: Backend, row: Any, kind: Kind = Kind.CONFIRMED, **kw: Any) -> bool:
    from township.notify import outbox

    with backend.database.write() as conn:
        return outbox.queue(conn, row, kind, **kw)


def run(backend: Backend, now: dt.datetime | None = None) -> dict[str, int]:
    from township.notify.service import run_once

    return run_once(backend.database, now=now)


def rows(backend: Backend, booking_id: str | None = None) -> list[Any]:
    """The outbox (of one booking: other tests' bookings in the module's backend may get reminders too)."""
    from township import db

    t = db.notifications
    query = sa.select(t).order_by(t.c.created_at)
    if booking_id is not None:
        query = query.where(t.c.booking_id == booking_id)
    with backend.database.read() as conn:
        return list(conn.execute(query).all())


def test_a_queued_message_is_sent_once_with_the_template_and_its_parameters(
    any_backend: Backend, sms: StandIn
) -> None:
    row = booking(any_backend)
    assert queue(any_backend, row, occasion="v1")
    assert not queue(any_backend, row, occasion="v1")  # the same occasion twice: one message
    assert run(any_backend)["sent"] == 1
    [got] = sms.delivered
    assert got.phone == "+86" + PHONE and got.template_id == "2001"
    assert got.params[0] == "远程问诊" and got.params[2] == row.code  # the clinic's speciality is not in it
    assert "测试服务" not in "".join(got.params)
    [message] = rows(any_backend)
    assert (
        message.status == "sent" and message.provider_message_id == got.message_id and message.attempts == 1
    )
    assert run(any_backend)["sent"] == 0 and len(sms.delivered) == 1


def test_no_phone_no_message(any_backend: Backend, sms: StandIn) -> None:
    assert not queue(any_backend, booking(any_backend, phone=None))
    assert rows(any_backend) == []


def test_quiet_hours_hold_a_message_until_morning(any_backend: Backend, sms: StandIn) -> None:
    configure(any_backend, sms, quiet=("21:00", "08:00"))
    row = booking(any_backend)
    shanghai = dt.timezone(dt.timedelta(hours=8))  # the demo township's zone has no daylight saving
    night = dt.datetime.combine(dt.date.today(), dt.time(23, 30), shanghai).astimezone(dt.UTC)
    queue(any_backend, row, not_before=night)
    assert run(any_backend, night)["sent"] == 0 and sms.delivered == []
    [held] = rows(any_backend)
    morning = dt.datetime.combine(dt.date.today() + dt.timedelta(days=1), dt.time(8), shanghai)
    assert held.status == "queued" and held.next_attempt_at == morning.astimezone(dt.UTC).replace(tzinfo=None)
    assert run(any_backend, morning)["sent"] == 1


def test_transient_failures_back_off_then_fail(any_backend: Backend, sms: StandIn) -> None:
    from township.notify.outbox import BACKOFF, MAX_ATTEMPTS

    queue(any_backend, booking(any_backend))
    sms.fail_next(*["LimitExceeded.PhoneNumberThirtySecondLimit"] * MAX_ATTEMPTS)
    now = dt.datetime.now(dt.UTC)
    for attempt in range(MAX_ATTEMPTS - 1):
        assert run(any_backend, now)["retry"] == 1
        [message] = rows(any_backend)
        assert message.status == "queued" and message.attempts == attempt + 1
        assert run(any_backend, now)["retry"] == 0  # not due again before its backoff
        now += BACKOFF[attempt]
    assert run(any_backend, now)["failed"] == 1
    [message] = rows(any_backend)
    assert message.status == "failed" and message.last_error.startswith("LimitExceeded")
    assert sms.delivered == []


def test_a_permanent_refusal_is_not_retried(any_backend: Backend, sms: StandIn) -> None:
    from township import booking as B

    row = booking(any_backend)
    with any_backend.database.write() as conn:
        row = B.update_booking(conn, row.id, status="rejected")
    queue(any_backend, row, Kind.REJECTED, reason="名额已满")  # no template id configured for it
    assert run(any_backend)["failed"] == 1
    assert rows(any_backend)[0].last_error == "NoTemplateId" and sms.requests_seen == 0


def test_a_crash_while_sending_is_reported_not_repeated(any_backend: Backend, sms: StandIn) -> None:
    from township.notify import outbox

    queue(any_backend, booking(any_backend))
    now = dt.datetime.now(dt.UTC)
    assert len(outbox.claim(any_backend.database, now=now)) == 1  # …and the process dies before sending
    assert run(any_backend, now)["sent"] == 0
    later = now + outbox.STALE + dt.timedelta(seconds=1)
    assert run(any_backend, later)["recovered"] == 1
    [message] = rows(any_backend)
    assert message.status == "unknown" and sms.delivered == []
    assert run(any_backend, later + dt.timedelta(hours=1)) == {"sent": 0, "retry": 0, "failed": 0} | {
        "recovered": 0,
        "reminders": 0,
    }


def test_two_senders_at_once_send_each_message_once(any_backend: Backend, sms: StandIn) -> None:
    from township import db
    from township.notify.service import run_once

    for _ in range(12):
        queue(any_backend, booking(any_backend))
    databases = [db.Database(any_backend.db_url, pool_size=2) for _ in range(2)]  # two processes, in effect
    start = threading.Barrier(2)

    def send(database: db.Database) -> None:
        start.wait()
        run_once(database)

    threads = [threading.Thread(target=send, args=(d,)) for d in databases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for d in databases:
        d.dispose()
    assert len(sms.delivered) == 12 and len({d.context for d in sms.delivered}) == 12
    assert {m.status for m in rows(any_backend)} == {"sent"}


def test_reminders_the_day_before_and_two_hours_before(any_backend: Backend, sms: StandIn) -> None:
    row = booking(any_backend, starts_in=dt.timedelta(hours=30))
    with any_backend.database.read() as conn:
        from township import db

        starts = db.utc(
            conn.execute(
                sa.select(db.sessions.c.starts_at).where(db.sessions.c.id == row.session_id)
            ).scalar_one()
        )
    now = starts - dt.timedelta(hours=40)  # before 10:00 the day before, whatever the hour the session starts
    assert run(any_backend, now) == {"sent": 0, "retry": 0, "failed": 0, "recovered": 0, "reminders": 2}
    assert run(any_backend, now)["reminders"] == 0  # queued once
    day, soon = sorted(rows(any_backend, row.id), key=lambda m: m.next_attempt_at)
    assert (day.kind, soon.kind) == ("reminder_day", "reminder_soon")
    assert abs(db.utc(soon.next_attempt_at) - (starts - dt.timedelta(hours=2))) < dt.timedelta(seconds=1)
    local = db.utc(day.next_attempt_at).astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert (local.date(), local.time()) == (
        starts.astimezone(local.tzinfo).date() - dt.timedelta(days=1),
        dt.time(10),
    )
    run(any_backend, db.utc(day.next_attempt_at))
    assert [(d.template_id, d.context) for d in sms.delivered] == [("2002", day.id)]
    # The resident cancels: the two-hour reminder is not sent.
    from township import booking as B

    with any_backend.database.write() as conn:
        B.update_booking(conn, row.id, status="cancelled")
    assert run(any_backend, starts - dt.timedelta(hours=2))["sent"] == 0
    assert {m.kind: m.status for m in rows(any_backend, row.id)}["reminder_soon"] == "skipped"


def test_credentials_are_sealed_never_shown_and_never_logged(
    any_backend: Backend, sms: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    from township import db
    from township.notify.outbox import load_settings
    from township.notify.service import SettingsError, save_settings

    with any_backend.database.read() as conn:
        saved = conn.execute(sa.select(db.notify_settings)).one()
    assert SECRET_KEY not in str(tuple(saved)) and sms.secret_id not in str(tuple(saved))
    with any_backend.database.write() as conn:  # a form that does not repeat the secret keeps it
        save_settings(
            conn, any_backend.township_id(), provider="tencent", config=dict(saved.config), secret=None
        )
        assert load_settings(conn, any_backend.township_id()).secret["secret_key"] == SECRET_KEY
        with pytest.raises(SettingsError):
            save_settings(
                conn, any_backend.township_id(), provider="http", config={"url": "http://evil"}, secret=None
            )
    caplog.set_level(logging.DEBUG)
    queue(any_backend, booking(any_backend))
    sms.fail_next("InternalError.Timeout")
    run(any_backend)
    logged = caplog.text
    assert SECRET_KEY not in logged and PHONE not in logged and "远程问诊" not in logged


def test_staff_decisions_queue_their_messages(any_backend: Backend, sms: StandIn) -> None:
    from township import services

    kiosk = any_backend.enroll()
    reviewed = any_backend.new_session(capacity=2, review=True)
    confirm, reject = (kiosk.book(reviewed, phone=PHONE)["booking"]["id"] for _ in range(2))
    services.confirm_booking(any_backend.database, confirm, staff_id=None)
    services.reject_booking(any_backend.database, reject, "医生名额已满", staff_id=None)
    full = any_backend.new_session(capacity=1)
    seated = kiosk.book(full, phone=PHONE)["booking"]["id"]
    waiting = kiosk.book(full, phone=PHONE, waitlist=True)["booking"]["id"]
    cancelled = any_backend.new_session(capacity=3)
    told = kiosk.book(cancelled, phone=PHONE)["booking"]["id"]
    services.cancel_session(any_backend.database, cancelled, "医生出诊", staff_id=None)
    services.reassign_booking(
        any_backend.database, seated, reviewed, staff_id=None
    )  # frees a seat: promotion
    queued = {(m.booking_id, m.kind) for m in rows(any_backend)}
    assert queued == {
        (confirm, "confirmed"),
        (reject, "rejected"),
        (told, "session_cancelled"),
        (seated, "moved"),
        (waiting, "promoted"),
    }
    [refusal] = [m for m in rows(any_backend) if m.kind == "rejected"]
    assert refusal.params["reason"] == "医生名额已满"
    assert run(any_backend)["sent"] == 1  # only `confirmed` has an approved template id in this township
    assert {m.kind: m.last_error for m in rows(any_backend) if m.status == "failed"} == {
        "rejected": "NoTemplateId",
        "session_cancelled": "NoTemplateId",
        "moved": "NoTemplateId",
        "promoted": "NoTemplateId",
    }


def test_sms_settings_from_the_command_line_keep_the_secret_off_screen(
    any_backend: Backend, sms: StandIn, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from township.__main__ import main
    from township.notify.outbox import load_settings

    monkeypatch.setattr("sys.stdin", io.StringIO("gateway-secret\n"))
    url = f"http://{sms.endpoint}/gateway"
    args = [
        "sms-settings",
        "--db",
        any_backend.db_url,
        "--township",
        "demo",
        "--provider",
        "http",
        "--url",
        url,
    ]
    assert main([*args, "--quiet", "22:00-07:30"]) == 0
    out = capsys.readouterr().out
    assert "gateway-secret" not in out and "never shown again" in out
    with any_backend.database.read() as conn:
        settings = load_settings(conn, any_backend.township_id())
    assert settings.provider == "http" and settings.secret == {"secret": "gateway-secret"}
    assert (settings.quiet_from, settings.quiet_until) == (dt.time(22), dt.time(7, 30))
    assert main([*args, "--quiet", "25:00-07:00", "--keep-secret"]) == 1
    assert "免打扰" in capsys.readouterr().err


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_console_shows_each_message_on_its_booking(any_backend: Backend, sms: StandIn, lang: str) -> None:
    from tests.browser.console_client import STAFF_PASSWORD, ConsoleClient

    name = "xiaoxi" + lang[:2]
    any_backend.create_staff(name, "reviewer", STAFF_PASSWORD)
    row = booking(any_backend)
    queue(any_backend, row)
    queue(any_backend, row, Kind.REMINDER_DAY, not_before=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    run(any_backend)
    client = ConsoleClient(any_backend.url, lang=lang)
    assert client.sign_in(name).status_code == 200
    page = client.get(f"/console/bookings/{row.id}").text
    table = page[page.index('id="messages"') :]
    if lang == "en":
        assert "Sent" in table and "Waiting to be sent" in table and "Reminder, the day before" in table
    else:
        assert "已发送" in table and "等待发送" in table and "前一天提醒" in table
    assert PHONE not in page  # the number stays masked


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_an_admin_sets_sms_in_the_console_and_the_secret_never_comes_back(
    any_backend: Backend, sms: StandIn, lang: str
) -> None:
    import re

    from tests.browser.console_client import STAFF_PASSWORD, ConsoleClient, csrf_of
    from township.notify.outbox import load_settings

    admin_name, reviewer_name = "duanxin" + lang[:2], "kanxin" + lang[:2]
    any_backend.create_staff(admin_name, "admin", STAFF_PASSWORD)
    any_backend.create_staff(reviewer_name, "reviewer", STAFF_PASSWORD)
    reviewer = ConsoleClient(any_backend.url, lang=lang)
    assert reviewer.sign_in(reviewer_name).status_code == 200
    assert reviewer.get("/console/sms").status_code == 403
    client = ConsoleClient(any_backend.url, lang=lang)
    assert client.sign_in(admin_name).status_code == 200
    page = client.get("/console/sms")
    assert page.status_code == 200 and SECRET_KEY not in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "provider": "tencent",
        "sdk_app_id": sms.sdk_app_id,
        "sign_name": sms.sign_name,
        "region": "ap-guangzhou",
        "template_confirmed": "2001",
        "secret_id": "",
        "secret_key": "",  # kept: already saved by the fixture
        "quiet_from": "21:30",
        "quiet_until": "07:00",
        "text_confirmed": "",
        "text_reminder_day": "明天{when}请来看{name}",  # an unknown parameter
    }
    unsigned = {k: v for k, v in form.items() if k != "csrf_token"} | {"quiet_from": "20:00"}
    forged = client.post("/console/sms", data=unsigned, csrf="")  # a cross-site form: no CSRF token
    assert forged.status_code in (400, 403)
    refused = client.post("/console/sms", data=form)
    assert refused.status_code == 400
    assert ("不认识的参数" if lang == "zh_CN" else "Unknown parameter") in refused.text
    with any_backend.database.read() as conn:
        assert load_settings(conn, any_backend.township_id()).quiet_from == dt.time(0)  # nothing saved
    form["csrf_token"] = csrf_of(refused.text)
    form["text_reminder_day"] = "提醒：明天{when}有{what}，预约号{code}。"
    saved = client.post("/console/sms", data=form)
    assert saved.status_code == 200, saved.text
    assert SECRET_KEY not in saved.text and not re.search(r'name="secret_key"[^>]*value="[^"]', saved.text)
    with any_backend.database.read() as conn:
        settings = load_settings(conn, any_backend.township_id())
    assert settings.secret["secret_key"] == SECRET_KEY and settings.quiet_from == dt.time(21, 30)
    assert settings.texts == {"reminder_day": "提醒：明天{when}有{what}，预约号{code}。"}
