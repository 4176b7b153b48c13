"""The sync HTTP client against small real HTTP(S) servers on 127.0.0.1: gzip, typed errors, TLS always verified."""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import json
import random
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kiosk.sync import client as c
from kiosk.sync.engine import backoff_delay

Reply = tuple[int, dict[str, str], bytes]


class _Server:
    """A real HTTP server whose answer is computed by `reply(handler, body)`; records what it received."""

    def __init__(
        self, reply: Callable[[BaseHTTPRequestHandler, bytes], Reply], tls: ssl.SSLContext | None = None
    ) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def _go(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.received.append((self.path, dict(self.headers.items()), body))
                status, headers, out = reply(self, body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = _go

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., _Server]]:
    servers: list[_Server] = []

    def make(
        reply: Callable[[BaseHTTPRequestHandler, bytes], Reply], tls: ssl.SSLContext | None = None
    ) -> _Server:
        s = _Server(reply, tls)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def _json(status: int, body: Any, **headers: str) -> Reply:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()


NOW = "2026-11-28T12:00:00+00:00"


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert c.parse_retry_after("7") == 7.0
    assert c.parse_retry_after(None) is None
    assert c.parse_retry_after("soon") is None
    assert c.parse_retry_after("-3") == 0.0
    assert c.parse_retry_after("999999") == 3600.0
    when = dt.datetime(2030, 1, 1, 0, 0, 30, tzinfo=dt.UTC)
    base = dt.datetime(2030, 1, 1, tzinfo=dt.UTC).timestamp()
    assert c.parse_retry_after(email.utils.format_datetime(when, usegmt=True), now=base) == pytest.approx(
        30.0
    )


def test_backoff_is_full_jitter_capped_and_honours_retry_after() -> None:
    rng = random.Random(4)
    for attempt in range(12):
        ceiling = min(600.0, 2.0 * 2**attempt)
        draws = [backoff_delay(attempt, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8 and min(draws) < ceiling * 0.2  # spread over the whole range
    assert all(backoff_delay(0, rng, retry_after=45.0) >= 45.0 for _ in range(50))
    assert max(backoff_delay(40, rng) for _ in range(100)) <= 600.0


@pytest.mark.parametrize(
    "url", ["ftp://x", "hall.example.cn", "https://", "https://a:port", "https://a/?q=1"]
)
def test_bad_addresses_are_refused_with_a_reason(url: str) -> None:
    with pytest.raises(ValueError, match=r".+"):
        c.check_url(url)


def test_plain_http_only_inside_the_local_network() -> None:
    assert c.check_url("https://hall.example.cn:8700/") == "https://hall.example.cn:8700"
    assert c.check_url("http://127.0.0.1:8700") == "http://127.0.0.1:8700"
    assert c.check_url("http://192.168.1.20:8700") == "http://192.168.1.20:8700"
    with pytest.raises(ValueError):
        c.check_url("http://hall.example.cn:8700")


def test_request_bodies_are_gzipped_and_gzip_responses_accepted(serve: Callable[..., _Server]) -> None:
    def reply(h: BaseHTTPRequestHandler, body: bytes) -> Reply:
        ops = json.loads(gzip.decompress(body))["ops"]
        out = json.dumps(
            {"results": [{"op_id": o["op_id"], "outcome": "applied"} for o in ops], "server_time": NOW}
        ).encode()
        return 200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, gzip.compress(out)

    server = serve(reply)
    op = {
        "op_id": "4b3c0a1e-51fb-4b4e-9a64-5b0bd6a0f1d2",
        "device_seq": 1,
        "entity": "booking",
        "entity_id": "8b3c0a1e-51fb-4b4e-9a64-5b0bd6a0f1d2",
        "kind": "check_in",
        "payload": {},
        "created_at": NOW,
    }
    with c.TownshipClient(server.url, "secret-token-value") as client:
        response = client.push({"device_id": "d", "ops": [op] * 3})
    assert [r.outcome for r in response.results] == ["applied"] * 3
    path, headers, body = server.received[0]
    assert path == "/v1/sync/push"
    assert headers["Content-Encoding"] == "gzip"
    assert "gzip" in headers["Accept-Encoding"]
    assert headers["Authorization"] == "Bearer secret-token-value"
    assert len(body) < len(json.dumps({"ops": [op] * 3}))


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, c.BadRequest),
        (401, c.Unauthorized),
        (403, c.Forbidden),
        (410, c.CursorExpired),
        (413, c.TooLarge),
        (500, c.ServerError),
        (502, c.ServerError),
        (404, c.BadResponse),
    ],
)
def test_whole_request_failures_are_typed(serve: Callable[..., _Server], status: int, error: type) -> None:
    server = serve(lambda h, b: _json(status, {"error": "some_code", "message": "x"}))
    with c.TownshipClient(server.url, "tok") as client, pytest.raises(error) as caught:
        client.pull(None)
    failure = caught.value
    assert isinstance(failure, c.SyncError)
    assert failure.status == status
    assert failure.message()


@pytest.mark.parametrize("status", [429, 503])
def test_busy_carries_retry_after(serve: Callable[..., _Server], status: int) -> None:
    server = serve(lambda h, b: _json(status, {"error": "busy", "message": "later"}, **{"Retry-After": "12"}))
    with c.TownshipClient(server.url, "tok") as client, pytest.raises(c.Busy) as caught:
        client.pull("abc")
    assert caught.value.retry_after == 12.0
    assert caught.value.transient


def test_damaged_answers_are_errors_not_data(serve: Callable[..., _Server]) -> None:
    server = serve(lambda h, b: (200, {"Content-Type": "application/json"}, b'{"changes": [{"seq": 1,'))
    with c.TownshipClient(server.url, "tok") as client, pytest.raises(c.BadResponse):
        client.pull(None)
    cut = serve(lambda h, b: (200, {"Content-Length": "500"}, b'{"changes": []'))
    # The body is shorter than announced: the read timeout ends the wait (short here, 30 s in service).
    with (
        c.TownshipClient(cut.url, "tok", timeout=(5.0, 1.0)) as client,
        pytest.raises((c.LinkDown, c.BadResponse)),
    ):
        client.pull(None)


def test_unreachable_is_link_down() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with c.TownshipClient(f"http://127.0.0.1:{port}") as client, pytest.raises(c.LinkDown):
        client.health()


def test_token_never_in_repr_or_error_text(serve: Callable[..., _Server]) -> None:
    token = "tok-9f8e7d6c5b4a"
    server = serve(lambda h, b: _json(401, {"error": "unauthorized", "message": "no"}))
    client = c.TownshipClient(server.url, token)
    assert token not in repr(client)
    with pytest.raises(c.Unauthorized) as caught:
        client.pull(None)
    assert token not in str(caught.value) and token not in caught.value.message()
    client.close()


def _self_signed(tmp: Path) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    import ipaddress

    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    return ctx


def test_certificate_that_does_not_verify_is_refused(serve: Callable[..., _Server], tmp_path: Path) -> None:
    server = serve(lambda h, b: _json(200, {"status": "ok", "server_time": NOW}), tls=_self_signed(tmp_path))
    with c.TownshipClient(server.url) as client, pytest.raises(c.TLSRefused) as caught:
        client.health()
    assert not caught.value.transient
    assert caught.value.message()
    with c.TownshipClient(server.url) as client:
        client.verify = False  # turning verification off is refused, not obeyed
        with pytest.raises(c.TLSRefused):
            client.health()
        client.verify = True
        with pytest.raises(c.TLSRefused):
            client.get(server.url + "/v1/health", verify=False)
    assert server.received == []  # no request ever went through
    # The township's own CA, given explicitly, is trusted: verification stays on, with that anchor.
    with c.TownshipClient(server.url, ca_bundle=str(tmp_path / "cert.pem")) as client:
        assert client.health().status == "ok"
