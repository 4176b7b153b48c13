"""Issue 14's security findings against a real backend (uvicorn on 127.0.0.1), on SQLite and PostgreSQL: one test
(or more) per finding, each failing before its fix. The kiosk-side findings (4, 11, 12, 13) are in
tests/unit/test_private_data.py and tests/unit/test_staff.py."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import stat
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa
from itsdangerous import URLSafeSerializer

from tests.browser.console_client import STAFF_PASSWORD, ConsoleClient, booking_op
from tests.integration.conftest import create_op, op, unique_id_number
from township import db


@pytest.fixture(scope="module")
def staffed(any_backend: Any) -> Any:
    any_backend.create_staff("anquan", "admin", STAFF_PASSWORD)
    return any_backend


def _resident(backend: Any, id_number: str) -> Any:
    """The resident's record, decrypted (found through the blind index)."""
    from cunzhan.fieldcrypto import field_ref
    from township import keys

    with backend.database.read() as conn:
        cipher = keys.cipher_for(conn)
        row = conn.execute(
            sa.select(db.residents).where(db.residents.c.id_blind == cipher.lookup_hash(id_number))
        ).one()

    def clear(column: str) -> str | None:
        return cipher.decrypt(getattr(row, column), where=field_ref("residents", column, row.id))

    return SimpleNamespace(
        name=clear("name_enc"),
        phone=clear("phone_enc"),
        village=row.village,
        id_number=clear("id_number_enc"),
    )


# --- finding 1: a kiosk's op never rewrites a resident booked elsewhere ------------------------------------------


def _create(session_id: str, seq: int, number: str, name: str, *, phone: str, village: str) -> dict[str, Any]:
    return booking_op(
        session_id,
        device_seq=seq,
        code=f"{uuid.uuid4().int % 10**9:09d}",
        name=name,
        number=number,
        phone=phone,
        village=village,
    )


def test_a_rejected_op_changes_nothing_and_bookings_keep_their_own_details(staffed: Any) -> None:
    session_id = staffed.new_session(capacity=5)
    other_session = staffed.new_session(capacity=5)
    a, b = staffed.enroll("甲"), staffed.enroll("乙")
    number = unique_id_number()
    first = a.push_ok(
        [_create(session_id, a.next_seq(), number, "张桂英", phone="13912345678", village="上坪村")]
    )[0]
    assert first["outcome"] == "applied"
    # Kiosk B: the same resident in the same session (a duplicate), with other details: refused, nothing changes.
    dup = b.push_ok(
        [_create(session_id, b.next_seq(), number, "冒名者", phone="13000000000", village="别村")]
    )[0]
    assert dup["outcome"] == "rejected" and dup["reason"] == "duplicate_booking"
    row = _resident(staffed, number)
    assert (row.name, row.phone, row.village) == ("张桂英", "13912345678", "上坪村")
    # Kiosk B books the same resident elsewhere with new details: applied, kept on B's booking only.
    moved = b.push_ok(
        [_create(other_session, b.next_seq(), number, "张桂英", phone="13700000000", village="下坪村")]
    )[0]
    assert moved["outcome"] == "applied"
    row = _resident(staffed, number)
    assert (row.name, row.phone, row.village) == ("张桂英", "13912345678", "上坪村")
    from township.console import queries

    tid = staffed.township_id()
    with staffed.database.read() as conn:
        mine = queries.booking(conn, tid, first["booking"]["id"])
        theirs = queries.booking(conn, tid, moved["booking"]["id"])
        shown_a = queries.reveal_numbers(conn, tid, first["booking"]["id"])
    assert mine is not None and theirs is not None and shown_a is not None
    assert (mine["village"], shown_a["phone"]) == ("上坪村", "13912345678")
    assert theirs["village"] == "下坪村"


# --- finding 3: no personal data in any log; every string bounded ------------------------------------------------


def test_a_failing_op_logs_no_personal_data(staffed: Any, caplog: pytest.LogCaptureFixture) -> None:
    """An op the database refuses is answered `invalid`, and the warning names the op, not the resident."""
    name, village = "日志测试名", "日志测试村"
    if staffed.kind == "postgresql":
        ddl = f"ALTER TABLE residents ADD CONSTRAINT test_refuse CHECK (village <> '{village}')"
        undo = "ALTER TABLE residents DROP CONSTRAINT test_refuse"
    else:
        ddl = (
            f"CREATE TRIGGER test_refuse BEFORE INSERT ON residents WHEN NEW.village = '{village}' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
        undo = "DROP TRIGGER test_refuse"
    with staffed.database.write() as conn:
        conn.exec_driver_sql(ddl)
    try:
        kiosk = staffed.enroll("日志")
        number = unique_id_number()
        with caplog.at_level(logging.DEBUG):
            result = kiosk.push_ok(
                [
                    _create(
                        staffed.new_session(),
                        kiosk.next_seq(),
                        number,
                        name,
                        phone="13911112222",
                        village=village,
                    )
                ]
            )[0]
    finally:
        with staffed.database.write() as conn:
            conn.exec_driver_sql(undo)
    assert result["outcome"] == "rejected" and result["reason"] == "invalid"
    assert "could not be applied" in caplog.text  # the failure is logged…
    for secret in (number, name, "13911112222", village):  # …without what the resident typed
        assert secret not in caplog.text


@pytest.mark.parametrize(
    "field, value", [("phone", "1" * 21), ("village", "村" * 101), ("staff_id", "s" * 65)]
)
def test_oversized_strings_are_invalid_not_database_errors(
    staffed: Any, caplog: pytest.LogCaptureFixture, field: str, value: str
) -> None:
    kiosk = staffed.enroll("边界")
    created = create_op(staffed.new_session(), device_seq=kiosk.next_seq())
    payload = created["payload"]
    if field in ("phone", "village", "name"):
        payload["resident"][field] = value
    elif field == "relation":
        payload["for_dependent"] = {"name": "孙女", "relation": value, "birth_year": 2015}
    else:
        payload["staff_id"] = value
        payload["channel"] = "assisted"
    with caplog.at_level(logging.WARNING):
        result = kiosk.push_ok([created])[0]
    assert result["outcome"] == "rejected" and result["reason"] == "invalid"
    assert "could not be applied" not in caplog.text  # refused by the protocol's bounds, not by the database


# --- finding 4: a readable database gives no admin ---------------------------------------------------------------


def test_the_cookie_key_is_not_derived_from_the_database(staffed: Any) -> None:
    """The old key (an HMAC of the township's cursor secret, readable by anyone who can read the database) no longer
    signs a working cookie; the key file (SQLite: beside the database) is 0600."""
    import hashlib
    import hmac
    import time

    from township.console.auth import SESSION_COOKIE

    with staffed.database.read() as conn:
        secret = conn.execute(sa.select(db.townships.c.cursor_secret)).scalars().first()
        staff_id = conn.execute(
            sa.select(db.staff_users.c.id).where(db.staff_users.c.username == "anquan")
        ).scalar_one()
    old_key = hmac.new(secret.encode(), b"cunzhan-console-session-v1", hashlib.sha256).hexdigest()
    now = time.time()
    forged = URLSafeSerializer(old_key, salt="cunzhan-console-session").dumps(
        {"u": staff_id, "s": "forged", "c": "x", "t0": now, "t": now}
    )
    thief = ConsoleClient(staffed.url)
    thief.http.cookies.set(SESSION_COOKIE, forged, path="/console")
    page = thief.get("/console/audit")
    assert "/console/signin" in page.url and "Staff actions" not in page.text
    if staffed.kind == "sqlite":
        folder = Path(staffed.db_url.split("///", 1)[1]).parent
        key = folder / "console.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for name in os.listdir(folder):
            if name.startswith(Path(staffed.db_url).name):
                assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name


def test_the_environment_key_wins_over_the_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from township import keys

    url = f"sqlite:///{tmp_path / 'k' / 'township.db'}"
    monkeypatch.delenv(keys.CONSOLE_SECRET_ENV, raising=False)
    from_file = keys.console_secret(url)
    assert (tmp_path / "k" / "console.key").read_text().strip() == from_file
    monkeypatch.setenv(keys.CONSOLE_SECRET_ENV, "from-the-environment-" + "x" * 40)
    assert keys.console_secret(url) == "from-the-environment-" + "x" * 40
    # The personal-data key likewise: data.key 0600 beside the database, CUNZHAN_DATA_KEY (64 hex digits) wins.
    monkeypatch.delenv(keys.DATA_KEY_ENV, raising=False)
    from_file_cipher = keys.data_cipher(url)
    assert stat.S_IMODE((tmp_path / "k" / "data.key").stat().st_mode) == 0o600
    monkeypatch.setenv(keys.DATA_KEY_ENV, "ab" * 32)
    from_env_cipher = keys.data_cipher(url)
    assert from_env_cipher.lookup_hash("x") != from_file_cipher.lookup_hash("x")
    for bad in ("not hex", "abcd"):
        monkeypatch.setenv(keys.DATA_KEY_ENV, bad)
        with pytest.raises(RuntimeError, match="64 hex digits"):
            keys.data_cipher(url)


def test_a_new_sqlite_database_and_its_folder_are_private(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'township.db'}"
    db.migrate(url)
    database = db.Database(url)
    with database.write() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x)")
    for path in (tmp_path / "fresh" / "township.db", tmp_path / "fresh" / "township.db-wal"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o700
    database.dispose()


# --- finding 5: kiosks cannot forge the staff audit trail ---------------------------------------------------------


def _audit_op(seq: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return op("audit", "batch", str(uuid.uuid4()), {"entries": entries}, device_seq=seq)


def test_kiosk_audit_entries_are_sorted_by_receipt_and_cannot_pose_as_console_actions(staffed: Any) -> None:
    session_id = staffed.new_session(capacity=3, review=True)
    kiosk = staffed.enroll("审计")
    made = kiosk.push_ok([create_op(session_id, device_seq=kiosk.next_seq())])[0]
    code = made["booking"]["code"]
    forged = {
        "seq": 1,
        "at": "9999-12-31T23:59:59+00:00",
        "actor": "S01",
        "action": "booking_confirmed",
        "detail": code,
    }
    honest = {
        "seq": 2,
        "at": "2020-01-01T00:00:00+00:00",
        "actor": "S01",
        "action": "staff_signed_in",
        "detail": "",
    }
    result = kiosk.push_ok([_audit_op(kiosk.next_seq(), [forged, honest])])[0]
    assert result["outcome"] == "applied"
    from township.console import queries

    tid = staffed.township_id()
    with staffed.database.read() as conn:
        rows = queries.audit_rows(conn, tid, zone=ZoneInfo("Asia/Shanghai"))
        trail = queries.booking_audit(conn, tid, made["booking"]["id"], code)
        stored = conn.execute(
            sa.select(db.staff_audit).where(db.staff_audit.c.who.like(f"kiosk {kiosk.kiosk_number}:%"))
        ).all()
    assert rows[0]["action"] != "booking_confirmed" and rows[0]["at"] <= db.now_utc() + dt.timedelta(
        seconds=1
    )
    assert "booking_confirmed" not in [r["action"] for r in trail]
    by_seq = {r.detail["seq"]: r for r in stored}
    assert by_seq[1].action == "kiosk_other" and by_seq[1].detail["action"] == "booking_confirmed"
    assert by_seq[1].client_at == dt.datetime(9999, 12, 31, 23, 59, 59)
    assert abs(db.utc(by_seq[1].at) - db.now_utc()) < dt.timedelta(minutes=5)
    assert by_seq[2].action == "staff_signed_in"
    client = ConsoleClient(staffed.url)
    client.sign_in("anquan")
    page = client.get("/console/bookings/" + made["booking"]["id"])
    assert page.status_code == 200
    audit = client.get("/console/audit")
    assert audit.status_code == 200 and "Other kiosk action" in audit.text


def test_kiosk_audit_entries_per_push_are_capped(staffed: Any) -> None:
    from cunzhan.protocol import MAX_AUDIT_ENTRIES_PER_PUSH

    kiosk = staffed.enroll("审计上限")
    ops = []
    seq = 0
    for _ in range(MAX_AUDIT_ENTRIES_PER_PUSH // 200 + 1):
        entries = []
        for _ in range(200):
            seq += 1
            entries.append(
                {
                    "seq": seq,
                    "at": "2026-01-01T00:00:00+00:00",
                    "actor": "S01",
                    "action": "staff_signed_in",
                    "detail": "",
                }
            )
        ops.append(_audit_op(kiosk.next_seq(), entries))
    results = kiosk.push_ok(ops)
    assert [r["outcome"] for r in results[:-1]] == ["applied"] * (len(ops) - 1)
    assert results[-1]["outcome"] == "rejected" and results[-1]["reason"] == "invalid"
    with staffed.database.read() as conn:
        count = conn.execute(
            sa.select(sa.func.count())
            .select_from(db.staff_audit)
            .where(db.staff_audit.c.who.like(f"kiosk {kiosk.kiosk_number}:%"))
        ).scalar_one()
    assert count == MAX_AUDIT_ENTRIES_PER_PUSH


# --- finding 6: CSV formula guard --------------------------------------------------------------------------------


def test_report_csv_guards_cells_starting_with_a_tab_or_carriage_return(staffed: Any) -> None:
    session_id = staffed.new_session(capacity=5, starts_in=dt.timedelta(days=2))
    kiosk = staffed.enroll("表格")
    for village in ("\t=1+2", "\r=3+4", "=5+6"):
        result = kiosk.push_ok(
            [
                _create(
                    session_id,
                    kiosk.next_seq(),
                    unique_id_number(),
                    "表格测试",
                    phone="13912345678",
                    village=village,
                )
            ]
        )[0]
        assert result["outcome"] == "applied"
    client = ConsoleClient(staffed.url)
    client.sign_in("anquan")
    day = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).date()
    start, end = (day - dt.timedelta(days=2)).isoformat(), (day + dt.timedelta(days=2)).isoformat()
    response = client.get(f"/console/reports.csv?by=village&start={start}&end={end}")
    assert response.status_code == 200
    import csv
    import io

    cells = [row[0] for row in csv.reader(io.StringIO(response.content.decode("utf-8-sig")))][1:]
    for bad in ("\t=1+2", "\r=3+4", "=5+6"):
        assert "'" + bad in cells, cells
        assert bad not in cells


# --- finding 7: console form bodies are bounded ------------------------------------------------------------------


def test_a_huge_console_form_is_refused_before_it_is_read(staffed: Any) -> None:
    big = b"username=x&password=" + b"a" * (2 * 1024 * 1024)
    response = requests.post(
        staffed.url + "/console/signin",
        data=big,
        timeout=30,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413

    def chunks() -> Any:  # no Content-Length: the limit holds while streaming too
        yield b"username=x&password="
        for _ in range(64):
            yield b"a" * 32 * 1024

    streamed = requests.post(
        staffed.url + "/console/signin",
        data=chunks(),
        timeout=30,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413


def test_a_nul_in_a_console_address_or_form_is_a_400_in_the_staff_language(staffed: Any) -> None:
    """No text column can hold a NUL (PostgreSQL refuses it: these were 500s, the sign-in form's even before anyone
    signed in); refused before any page runs, whether the NUL is in the address, the query or the form, raw or
    %00, or cut between two chunks of a streamed form."""
    client = ConsoleClient(staffed.url)
    client.sign_in("anquan")
    refused = [
        client.get("/console/accounts/a%00b"),
        client.get("/console/audit?who_filter=a%00b"),
        client.post("/console/notices", {"title": "通知\x00", "body": "x"}),
        requests.post(
            staffed.url + "/console/signin", data={"username": "a\x00", "password": "x"}, timeout=30
        ),  # not signed in: Chinese
    ]

    def cut() -> Any:  # "%0" at the end of one chunk, "0" at the start of the next
        yield b"username=ab%0"
        yield b"0&password=x"

    refused.append(
        requests.post(
            staffed.url + "/console/signin",
            data=cut(),
            timeout=30,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    )
    assert [r.status_code for r in refused] == [400] * 5
    assert all("Nothing was changed" in r.text for r in refused[:3]), [r.text[:200] for r in refused]
    assert all("没有做任何更改" in r.text or "未做任何更改" in r.text for r in refused[3:])
    assert client.get("/console/accounts").status_code == 200  # still signed in, nothing broken
    # A percent sign typed as text is not a NUL.
    assert client.get("/console/audit?who_filter=%2500").status_code == 200


def test_odd_numbers_in_the_county_pages_fall_back_to_the_default(staffed: Any) -> None:
    """ "²" is a digit to str.isdigit but not to int, and int refuses 4,300 digits: these were 500s."""
    client = ConsoleClient(staffed.url)
    client.sign_in("anquan")
    for page in ("/console/insight", "/console/insight/satisfaction", "/console/insight/needs"):
        for weeks in ("%C2%B2", "1" * 5000, "-4", "8.0"):
            assert client.get(f"{page}?weeks={weeks}").status_code == 200, (page, weeks)


# --- finding 8: inputs that gave 500 -----------------------------------------------------------------------------


def test_inputs_that_gave_server_errors_are_4xx(staffed: Any) -> None:
    kiosk = staffed.enroll("输入")
    big = kiosk.push([], pending_ops=2**63)
    assert big.status_code == 400, big.text
    assert kiosk.pull(limit="²").status_code == 400  # type: ignore[arg-type]
    entry = {"seq": 1, "at": "x", "actor": "LONE", "action": "sync_now"}
    audit = op("audit", "batch", str(uuid.uuid4()), {"entries": [entry]}, device_seq=1)
    body = json.dumps({"device_id": kiosk.device_id, "ops": [audit]}).replace("LONE", "\\ud800")
    lone = requests.post(
        staffed.url + "/v1/sync/push",
        data=body.encode(),
        timeout=30,
        headers={**kiosk.headers, "Content-Type": "application/json"},
    )
    assert lone.status_code == 400, lone.text
    pair = body.replace("\\ud800", "\\ud83d\\ude00")  # a real pair (😀) is fine
    assert (
        requests.post(
            staffed.url + "/v1/sync/push",
            data=pair.encode(),
            timeout=30,
            headers={**kiosk.headers, "Content-Type": "application/json"},
        ).status_code
        == 200
    )
    client = ConsoleClient(staffed.url)
    client.sign_in("anquan")
    for day in ("9999-12-31", "0001-01-01"):
        for path in (
            f"/console/schedule?start={day}",
            f"/console/reports?start={day}&end={day}",
            f"/console/reports?end={day}",
            f"/console/reports.csv?start={day}&end={day}",
            f"/console/review?day={day}",
            f"/console/audit?day={day}",
        ):
            assert client.get(path).status_code == 200, path
        assert client.post("/console/holidays", {"day": day, "name": "假日"}).status_code == 400
        assert (
            client.post("/console/notices", {"title": "通知", "body": "", "last_day": day}).status_code == 400
        )
        assert (
            client.post(
                "/console/sessions",
                {
                    "service_id": "",
                    "provider_id": "",
                    "day": day,
                    "start": "09:00",
                    "minutes": "30",
                    "capacity": "5",
                    "room": "",
                    "video_url": "",
                    "repeat_weeks": "1",
                },
            ).status_code
            == 400
        )


# --- finding 9: sign-outs survive a restart ----------------------------------------------------------------------


def test_a_signed_out_cookie_stays_dead_after_a_restart(staffed: Any, start_backend: Any) -> None:
    client = ConsoleClient(staffed.url)
    client.sign_in("anquan")
    copied = client.http.cookies.get("cz_session", path="/console")
    assert client.post("/console/signout").status_code == 200
    restarted = start_backend(staffed.kind, demo=False, db_url=staffed.db_url)  # a new process's view
    thief = ConsoleClient(restarted.url)
    thief.http.cookies.set("cz_session", copied, path="/console")
    page = thief.get("/console/review")
    assert "/console/signin" in page.url and "Review queue" not in page.text
    # A fresh sign-in on the restarted backend works (the key file is shared, the session is new).
    fresh = ConsoleClient(restarted.url)
    assert fresh.sign_in("anquan").status_code == 200


# --- findings 2 and 10: sign-in hashes outside any transaction, throttled, with Retry-After ------------------------


def test_the_password_check_holds_no_connection_or_lock(
    staffed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While argon2 runs, the sign-in holds no database connection (so no transaction and no writer lock): a write
    from elsewhere goes straight through."""
    from township import signin

    hashing, release = threading.Event(), threading.Event()
    real = signin._check_password
    seen: dict[str, Any] = {}

    def watched(stored: str | None, password: str) -> bool:
        hashing.set()
        release.wait(20)
        return real(stored, password)

    monkeypatch.setattr(signin, "_check_password", watched)
    database = staffed.app.state.db
    worker = threading.Thread(
        target=lambda: seen.setdefault(
            "out", signin.sign_in(database, "demo", "anquan", STAFF_PASSWORD, "10.1.1.1")
        )
    )
    worker.start()
    try:
        assert hashing.wait(20)
        seen["checked_out"] = database.engine.pool.checkedout()
        quick = db.Database(staffed.db_url, write_timeout_s=1.0)
        with quick.write() as conn:  # SQLite: the same process-wide writer lock the sign-in used to hold
            conn.execute(sa.select(1))
        quick.dispose()
    finally:
        release.set()
        worker.join(30)
    assert seen["checked_out"] == 0
    assert seen["out"].staff is not None


def test_sign_in_is_throttled_per_address_and_per_account(
    staffed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from township import signin

    monkeypatch.setattr(signin, "ADDRESS_LIMIT", 6)
    monkeypatch.setattr(signin, "ACCOUNT_LIMIT", 8)
    database = staffed.app.state.db
    # One address trying many user names (never five of one): throttled after ADDRESS_LIMIT failures.
    for n in range(6):
        assert signin.sign_in(database, "demo", f"guess{n}", "wrong-password", "10.2.0.1").retry_after is None
    out = signin.sign_in(database, "demo", "anquan", STAFF_PASSWORD, "10.2.0.1")
    assert out.staff is None and out.throttled and 0 < (out.retry_after or 0) <= 600
    assert signin.sign_in(database, "demo", "anquan", STAFF_PASSWORD, "10.2.0.2").staff is not None
    # Many addresses guessing one account: throttled after ACCOUNT_LIMIT failures, from everywhere.
    staffed.create_staff("target", "reviewer", STAFF_PASSWORD)
    for n in range(8):
        assert signin.sign_in(database, "demo", "target", "wrong-password", f"10.3.0.{n}").retry_after is None
    out = signin.sign_in(database, "demo", "target", STAFF_PASSWORD, "10.3.1.1")
    assert out.staff is None and out.throttled and out.retry_after


def test_a_locked_sign_in_says_when_to_retry(staffed: Any) -> None:
    staffed.create_staff("retry", "reviewer", STAFF_PASSWORD)
    client = ConsoleClient(staffed.url)
    for _ in range(4):
        assert client.sign_in("retry", "wrong-password").status_code == 401
    locked = client.sign_in("retry", "wrong-password")
    assert locked.status_code == 429
    assert 14 * 60 <= int(locked.headers["Retry-After"]) <= 15 * 60
    # An unknown user name gets the same answers (nobody learns which names exist).
    other = ConsoleClient(staffed.url)
    codes = [other.sign_in("no-such-user", "wrong-password").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    assert "This account is locked for 15 more minutes" in other.sign_in("no-such-user", "x" * 9).text


# --- PIPL: residents' personal data encrypted at rest on the backend -----------------------------------------------


def test_residents_numbers_names_and_phones_are_encrypted_at_rest(staffed: Any) -> None:
    kiosk = staffed.enroll("加密")
    number, name, phone, grandchild = unique_id_number(), "加密测试人", "13955556666", "孙女小红"
    first = _create(staffed.new_session(), kiosk.next_seq(), number, name, phone=phone, village="上坪村")
    first["payload"]["for_dependent"] = {"name": grandchild, "relation": "孙女", "birth_year": 2016}
    result = kiosk.push_ok([first])[0]
    assert result["outcome"] == "applied"
    # The same dependent twice in the session is still a duplicate (matched by a keyed hash of the name).
    twice = _create(
        first["payload"]["session_id"], kiosk.next_seq(), number, name, phone=phone, village="上坪村"
    )
    twice["payload"]["for_dependent"] = {"name": grandchild, "relation": "孙女", "birth_year": 2016}
    assert kiosk.push_ok([twice])[0]["reason"] == "duplicate_booking"
    with staffed.database.read() as conn:
        stored = " ".join(
            str(tuple(row))
            for table in (db.residents, db.bookings)
            for row in conn.execute(sa.select(table)).all()
        )
    for secret in (number, name, phone, grandchild):
        assert secret not in stored
    if staffed.kind == "sqlite":
        path = Path(staffed.db_url.split("///", 1)[1])
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        for secret in (number, name, phone):
            assert secret.encode() not in raw
        assert stat.S_IMODE((path.parent / "data.key").stat().st_mode) == 0o600
    # Matched by the blind index, shown decrypted to staff (masked, and in full on an audited reveal).
    again = kiosk.push_ok(
        [_create(staffed.new_session(), kiosk.next_seq(), number, name, phone=phone, village="上坪村")]
    )[0]
    with staffed.database.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(db.residents)).scalar_one()
        ids = {
            r.resident_id
            for r in conn.execute(
                sa.select(db.bookings.c.resident_id).where(
                    db.bookings.c.id.in_([result["booking"]["id"], again["booking"]["id"]])
                )
            )
        }
    assert len(ids) == 1 and count >= 1
    client = ConsoleClient(staffed.url)
    client.sign_in("anquan")
    page = client.get("/console/bookings/" + result["booking"]["id"])
    assert (
        name in page.text and grandchild in page.text and number not in page.text and phone not in page.text
    )
    shown = client.post(f"/console/bookings/{result['booking']['id']}/reveal")
    assert number in shown.text and phone in shown.text


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_upgrade_encrypts_residents_already_stored(kind: str, tmp_path: Path) -> None:
    """A database from before (schema 0001, clear fields, a booking referring to the resident) is migrated: the clear
    columns are gone, the values encrypted and blind-indexed, the booking keeps its details, no key broken."""
    from alembic import command

    from cunzhan.fieldcrypto import field_ref
    from tests.integration.conftest import _fresh_pg_database
    from township import keys

    drop = None
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url, drop = _fresh_pg_database()
    try:
        database = db.Database(url)
        cfg = db.alembic_config(url)
        with database.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
        number = unique_id_number()
        now = "2026-01-01 00:00:00"
        with database.engine.begin() as conn:
            for sql in (
                "INSERT INTO townships (id, slug, name, cursor_secret, created_at) VALUES ('t', 't', 'T', 'x', :now)",
                "INSERT INTO services (id, township_id, kind, name, updated_at) VALUES ('s', 't', 'clinic', 'S', :now)",
                "INSERT INTO providers (id, township_id, name, updated_at) VALUES ('p', 't', 'P', :now)",
                "INSERT INTO sessions (id, township_id, service_id, provider_id, starts_at, ends_at, capacity, "
                "updated_at) VALUES ('x', 't', 's', 'p', :now, :now, 5, :now)",
                "INSERT INTO residents (id, township_id, id_number, id_mask, name, phone, village, created_at, "
                "updated_at) VALUES ('r', 't', :number, 'm', '旧居民', '13811112222', '上坪村', :now, :now)",
                "INSERT INTO bookings (id, township_id, session_id, resident_id, code, status, created_at, "
                "updated_at, for_dependent, dependent_key) VALUES ('b', 't', 'x', 'r', '0100001', 'confirmed', :now, "
                ':now, \'{"name": "旧孙子", "relation": "孙子", "birth_year": 2015}\', \'旧孙子\')',
            ):
                conn.execute(sa.text(sql), {"now": now, "number": number})
        database.dispose()
        db.migrate(url)
        database = db.Database(url)
        with database.read() as conn:
            cipher = keys.cipher_for(conn)
            r = conn.execute(sa.select(db.residents)).one()
            b = conn.execute(sa.select(db.bookings)).one()
            columns = {c["name"] for c in sa.inspect(conn).get_columns("residents")}
        assert not {"id_number", "name", "phone"} & columns
        assert r.id_blind == cipher.lookup_hash(number)
        assert cipher.decrypt(r.id_number_enc, where=field_ref("residents", "id_number_enc", "r")) == number
        assert cipher.decrypt(r.name_enc, where=field_ref("residents", "name_enc", "r")) == "旧居民"
        assert cipher.decrypt(b.contact_phone_enc, where=field_ref("bookings", "contact_phone_enc", "b")) == (
            "13811112222"
        )
        assert b.contact_village == "上坪村"
        assert "旧孙子" not in str(b.for_dependent) and b.dependent_key == cipher.lookup_hash("旧孙子")
        assert cipher.decrypt(
            b.for_dependent["name_enc"], where=field_ref("bookings", "for_dependent.name", "b")
        ) == ("旧孙子")
        database.dispose()
    finally:
        if drop is not None:
            drop()


def test_tightening_permissions_keeps_sqlites_locks(tmp_path: Path) -> None:
    """Making the files private must never open and close the database file while this process has it open:
    that would drop SQLite's POSIX locks, and another process closing its connection would delete the WAL."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'locks.db'}"
    db.migrate(url)
    first = db.Database(url)
    with first.write() as conn:
        conn.execute(sa.select(1))
    with first.read() as conn:
        conn.execute(sa.select(sa.func.count()).select_from(db.townships)).scalar_one()
        second = db.Database(url)  # tightens permissions again, with `first` connected
        code = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('select count(*) from townships').fetchall(); c.close()"
        subprocess.run([sys.executable, "-c", code, str(tmp_path / "locks.db")], check=True)
        assert (tmp_path / "locks.db-wal").exists()
    second.dispose()
    first.dispose()


# --- PIPL: retention ---------------------------------------------------------------------------------------------


def test_retention_erases_residents_with_no_session_for_the_period(staffed: Any) -> None:
    """Run as if 25 months had passed: a resident whose last session was then loses ID number, name and phone (on
    the booking too); the booking keeps village, service, session, status and the feedback rating for reports."""
    from township import retention
    from township.console import queries

    kiosk = staffed.enroll("保存期限")
    session_id = staffed.new_session(capacity=5, starts_in=dt.timedelta(days=1))
    number = unique_id_number()
    made = kiosk.push_ok(
        [_create(session_id, kiosk.next_seq(), number, "到期居民", phone="13966667777", village="上坪村")]
    )[0]
    booking_id = made["booking"]["id"]
    later = db.now_utc() + dt.timedelta(days=25 * 31)
    # A resident who books a session in the future of that moment is kept.
    keep_session = staffed.new_session(capacity=5, starts_in=dt.timedelta(days=25 * 31 + 3))
    kept_number = unique_id_number()
    kiosk.push_ok(
        [_create(keep_session, kiosk.next_seq(), kept_number, "留下", phone="13900001111", village="下坪村")]
    )
    assert retention.erase_inactive(staffed.database, now=db.now_utc()) == 0  # nothing is due yet
    assert retention.erase_inactive(staffed.database, now=later) >= 1
    tid = staffed.township_id()
    with staffed.database.read() as conn:
        booking = queries.booking(conn, tid, booking_id)
        revealed = queries.reveal_numbers(conn, tid, booking_id)
        stored = " ".join(
            str(tuple(x)) for x in conn.execute(sa.select(db.bookings).where(db.bookings.c.id == booking_id))
        )
        audit = conn.execute(
            sa.select(db.staff_audit.c.action).where(db.staff_audit.c.action == "residents_erased")
        ).all()
    assert booking is not None and booking["resident_name"] == "" and booking["phone_masked"] == ""
    assert booking["village"] == "上坪村" and booking["status"] == "confirmed"
    assert revealed == {"id_number": "", "phone": ""}
    assert audit
    assert _resident(staffed, kept_number).name == "留下"
    with pytest.raises(sa.exc.NoResultFound):
        _resident(staffed, number)  # no longer found by ID number
    # The same person booking again is a new record; the console still opens the old booking.
    again = kiosk.push_ok(
        [
            _create(
                staffed.new_session(),
                kiosk.next_seq(),
                number,
                "到期居民",
                phone="13966667777",
                village="上坪村",
            )
        ]
    )[0]
    assert again["outcome"] == "applied"
    client = ConsoleClient(staffed.url)
    client.sign_in("anquan")
    assert client.get("/console/bookings/" + booking_id).status_code == 200
    assert "到期居民" not in stored


# --- PIPL: consent recorded with the booking (the kiosk's notice screen is not built yet) -------------------------


def test_consent_sent_with_a_booking_is_kept_with_it_and_shown_to_staff(staffed: Any) -> None:
    kiosk = staffed.enroll("同意")
    with_consent = create_op(staffed.new_session(), device_seq=kiosk.next_seq())
    with_consent["payload"]["consent"] = {"notice": "2026-12", "at": "2026-12-02T08:30:00+00:00"}
    without = create_op(staffed.new_session(), device_seq=kiosk.next_seq())
    too_long = create_op(staffed.new_session(), device_seq=kiosk.next_seq())
    too_long["payload"]["consent"] = {"notice": "x" * 17, "at": "2026-12-02T08:30:00+00:00"}
    agreed, plain, bad = kiosk.push_ok([with_consent, without, too_long])
    assert agreed["outcome"] == "applied" and plain["outcome"] == "applied"
    assert bad["outcome"] == "rejected" and bad["reason"] == "invalid"
    with staffed.database.read() as conn:
        rows = {
            r.id: r
            for r in conn.execute(
                sa.select(db.bookings.c.id, db.bookings.c.consent_notice, db.bookings.c.consent_at).where(
                    db.bookings.c.id.in_([agreed["booking"]["id"], plain["booking"]["id"]])
                )
            )
        }
    assert rows[agreed["booking"]["id"]].consent_notice == "2026-12"
    assert rows[agreed["booking"]["id"]].consent_at == dt.datetime(2026, 12, 2, 8, 30)
    assert rows[plain["booking"]["id"]].consent_notice is None
    client = ConsoleClient(staffed.url)
    client.sign_in("anquan")
    assert "Agreed at the kiosk" in client.get("/console/bookings/" + agreed["booking"]["id"]).text
    assert "Not recorded" in client.get("/console/bookings/" + plain["booking"]["id"]).text


# --- PIPL: access, export and erasure on request in the console --------------------------------------------------


def test_an_admin_finds_shows_exports_and_erases_a_resident_and_each_step_is_audited(staffed: Any) -> None:
    staffed.create_staff("chakan", "reviewer", STAFF_PASSWORD)
    kiosk = staffed.enroll("查询")
    number = unique_id_number()
    made = kiosk.push_ok(
        [
            _create(
                staffed.new_session(),
                kiosk.next_seq(),
                number,
                "查询居民",
                phone="13944445555",
                village="上坪村",
            )
        ]
    )[0]
    admin = ConsoleClient(staffed.url)
    admin.sign_in("anquan")
    assert "/console/residents" in admin.get("/console/audit").text  # linked from the staff actions page
    assert admin.get("/console/residents").status_code == 200
    bad = admin.post("/console/residents/find", {"id_number": "123"})
    assert bad.status_code == 400 and "查询居民" not in bad.text
    unknown = admin.post("/console/residents/find", {"id_number": unique_id_number()})
    assert unknown.status_code == 404 and "No resident with this ID number" in unknown.text
    found = admin.post("/console/residents/find", {"id_number": number})
    assert found.status_code == 200 and "查询居民" in found.text and number in found.text
    match = re.search(r"/console/residents/([0-9a-f-]{36})/export", found.text)
    assert match is not None
    resident_id = match.group(1)
    export = admin.post(f"/console/residents/{resident_id}/export")
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    data = export.json()
    assert data["id_number"] == number and data["phone"] == "13944445555"
    assert [b["id"] for b in data["bookings"]] == [made["booking"]["id"]]
    unconfirmed = admin.post(f"/console/residents/{resident_id}/erase")
    assert unconfirmed.status_code == 400 and _resident(staffed, number).name == "查询居民"  # nothing erased
    erased = admin.post(f"/console/residents/{resident_id}/erase", {"confirm": "yes"})
    assert erased.status_code == 200 and "was erased" in erased.text
    with pytest.raises(sa.exc.NoResultFound):
        _resident(staffed, number)
    assert admin.post("/console/residents/find", {"id_number": number}).status_code == 404
    with staffed.database.read() as conn:
        actions = [
            r.action
            for r in conn.execute(
                sa.select(db.staff_audit.c.action)
                .where(db.staff_audit.c.target == resident_id)
                .order_by(db.staff_audit.c.id)
            )
        ]
        trail = " ".join(str(tuple(r)) for r in conn.execute(sa.select(db.staff_audit)))
    assert actions == ["resident_viewed", "resident_exported", "resident_erased"]
    assert number not in trail  # the audit names the record, never the ID number
    reviewer = ConsoleClient(staffed.url)
    reviewer.sign_in("chakan")
    assert reviewer.get("/console/residents").status_code == 403
    assert reviewer.post("/console/residents/find", {"id_number": number}).status_code == 403
