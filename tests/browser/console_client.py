"""A staff member's browser, without the browser: a `requests.Session` that signs in to the console and posts
forms with the page's CSRF token, for integration tests against a real backend (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import re
from typing import Any

import requests

STAFF_PASSWORD = "correct-horse-battery"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a console page carries in its forms."""
    found = _TOKEN.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


class ConsoleClient:
    """One staff member's cookies against one backend."""

    def __init__(self, base_url: str, *, lang: str = "en") -> None:
        self.base = base_url
        self.http = requests.Session()
        # English pages in tests that read messages; Chinese is the default and is tested on its own.
        self.http.cookies.set("cz_lang", lang, path="/console")
        self.csrf = ""

    def get(self, path: str, **kw: Any) -> requests.Response:
        response = self.http.get(self.base + path, timeout=30, **kw)
        found = (
            _TOKEN.search(response.text) if "text/html" in response.headers.get("content-type", "") else None
        )
        if found and "/signin" not in response.url:
            self.csrf = found.group(1)
        return response

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: str | None = None, **kw: Any
    ) -> requests.Response:
        """POST a form with the current page's CSRF token (or `csrf`; pass "" to send none)."""
        body = dict(data or {})
        token = self.csrf if csrf is None else csrf
        if token:
            body["csrf_token"] = token
        return self.http.post(self.base + path, data=body, timeout=30, **kw)

    def sign_in(
        self,
        username: str,
        password: str = STAFF_PASSWORD,
        *,
        township: str = "",
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        page = self.http.get(self.base + "/console/signin", timeout=30, headers=headers)
        response = self.http.post(
            self.base + "/console/signin",
            timeout=30,
            headers=headers,
            data={
                "username": username,
                "password": password,
                "csrf_token": csrf_of(page.text),
                "next": "",
                "township": township,
            },
        )
        if response.ok and "/signin" not in response.url:
            self.csrf = csrf_of(response.text)
        return response


def id_number(n: int) -> str:
    """A valid resident ID number (GB 11643 check character), distinct per `n` < 10000."""
    from cunzhan.identity import id_check_character

    first17 = f"330106{1940 + n % 50}0{1 + n % 9}1{n % 9}{n % 1000:03d}"[:17]
    return first17 + id_check_character(first17)


def booking_op(
    session_id: str,
    *,
    device_seq: int,
    code: str,
    name: str = "张桂英",
    number: str | None = None,
    phone: str | None = "13912345678",
    village: str = "上坪村",
    waitlist: bool = False,
) -> dict[str, Any]:
    """A kiosk's booking-create op for a resident (SYNC.md payload)."""
    import datetime as dt
    import uuid

    return {
        "op_id": str(uuid.uuid4()),
        "device_seq": device_seq,
        "entity": "booking",
        "entity_id": str(uuid.uuid4()),
        "kind": "create",
        "base_version": None,
        "payload": {
            "session_id": session_id,
            "code": code,
            "resident": {
                "id": str(uuid.uuid4()),
                "name": name,
                "id_number": number or id_number(device_seq),
                "phone": phone,
                "village": village,
            },
            "for_dependent": None,
            "channel": "self",
            "staff_id": None,
            "lease": False,
            "waitlist": waitlist,
        },
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
