"""The fault-injecting proxy does what it says, against a small real HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tests.proxy import FaultPlan, FaultProxy


class _Upstream:
    def __init__(self) -> None:
        self.hits: list[bytes] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.hits.append(body)
                out = json.dumps({"n": len(outer.hits), "echo": body.decode(errors="replace")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def upstream() -> Iterator[_Upstream]:
    u = _Upstream()
    yield u
    u.httpd.shutdown()
    u.httpd.server_close()


def _post(proxy: FaultProxy, body: bytes = b'{"x": 1}') -> requests.Response:
    return requests.post(proxy.url + "/v1/sync/push", data=body, timeout=5)


def test_pass_through_counts_bytes(upstream: _Upstream) -> None:
    with FaultProxy(upstream.port, FaultPlan(), seed=1) as proxy:
        r = _post(proxy)
    assert r.status_code == 200 and r.json()["echo"] == '{"x": 1}'
    assert upstream.hits == [b'{"x": 1}']
    assert proxy.stats["requests"] == 1 and proxy.stats["bytes_up"] > 8 and proxy.stats["bytes_down"] > 20


def test_scripted_faults(upstream: _Upstream) -> None:
    plan = FaultPlan(
        script=[
            "drop_request",
            "drop_response",
            "duplicate",
            "error_status",
            "truncate_response",
            "corrupt_response",
            "pass",
        ],
        retry_after_s=3,
    )
    with FaultProxy(upstream.port, plan, seed=2) as proxy:
        with pytest.raises(requests.ConnectionError):
            _post(proxy)
        assert upstream.hits == []  # dropped before the backend saw it
        with pytest.raises(requests.ConnectionError):
            _post(proxy)
        assert len(upstream.hits) == 1  # the backend acted; the answer was lost
        r = _post(proxy)
        assert len(upstream.hits) == 3 and r.json()["n"] == 3  # sent twice, second answer returned
        r = _post(proxy)
        assert r.status_code in (429, 502, 503) and r.headers["Retry-After"] == "3"
        assert len(upstream.hits) == 3
        with pytest.raises(requests.exceptions.RequestException):
            _post(proxy).json()
        damaged = _post(proxy, b'{"long": "' + b"a" * 400 + b'"}').content
        with pytest.raises(ValueError):
            json.loads(damaged.decode("utf-8"))
        assert _post(proxy).status_code == 200
    for fault in (
        "drop_request",
        "drop_response",
        "duplicate",
        "error_status",
        "truncate_response",
        "corrupt_response",
    ):
        assert proxy.stats[fault] == 1


def test_reorder_replays_a_stale_copy_after_the_next_request(upstream: _Upstream) -> None:
    with FaultProxy(upstream.port, FaultPlan(script=["reorder", "pass"]), seed=3) as proxy:
        _post(proxy, b"first")
        _post(proxy, b"second")
    assert upstream.hits == [b"first", b"second", b"first"]


def test_request_corruption_reaches_the_backend_damaged(upstream: _Upstream) -> None:
    with FaultProxy(
        upstream.port, FaultPlan(script=["truncate_request", "corrupt_request"]), seed=4
    ) as proxy:
        _post(proxy, b"0123456789" * 10)
        _post(proxy, b"0123456789" * 10)
    assert len(upstream.hits[0]) < 100
    assert len(upstream.hits[1]) == 100 and upstream.hits[1] != b"0123456789" * 10


def test_seeded_random_faults_repeat(upstream: _Upstream) -> None:
    def run() -> list[str]:
        plan = FaultPlan(drop_request=0.3, error_status=0.3)
        with FaultProxy(upstream.port, plan, seed=99) as proxy:
            outcomes = []
            for _ in range(20):
                try:
                    outcomes.append(str(_post(proxy).status_code))
                except requests.ConnectionError:
                    outcomes.append("drop")
        return outcomes

    first, second = run(), run()
    assert first == second
    assert "drop" in first and "200" in first


def test_paths_outside_the_plan_pass(upstream: _Upstream) -> None:
    with FaultProxy(upstream.port, FaultPlan(drop_request=1.0), seed=5) as proxy:
        r = requests.post(proxy.url + "/v1/health", data=b"x", timeout=5)
    assert r.status_code == 200
