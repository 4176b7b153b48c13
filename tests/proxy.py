"""A seeded fault-injecting HTTP proxy on 127.0.0.1, between kiosks and the township backend (SYNC.md "Testing").

It reads each request whole, decides its fate with a seeded random generator (or a scripted list of faults for the
next requests), and then:

- `drop_request`: closes the connection without forwarding (the kiosk sees a reset);
- `drop_response`: forwards, lets the backend act, then closes without answering (the kiosk never learns the result);
- `duplicate`: forwards the request twice and answers with the second response;
- `reorder`: forwards it, and sends a stale copy again later, after the next request (an old retry overtaking);
- `truncate_response` / `corrupt_response`: answers with a cut-off or byte-flipped body;
- `truncate_request` / `corrupt_request`: forwards a cut-off or byte-flipped body;
- `error_status`: answers 502, 503 or 429 itself, with `Retry-After`;
- and for every request: `delay_s` added latency and a `throttle_bps` link shared by all connections.

Counts every byte it receives and sends (`stats`), which is how the benchmark measures bytes on the wire.
"""

from __future__ import annotations

import http.client
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = (
    "drop_request",
    "drop_response",
    "duplicate",
    "reorder",
    "truncate_response",
    "corrupt_response",
    "truncate_request",
    "corrupt_request",
    "error_status",
)
_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "host",
    "content-length",
}


@dataclass
class FaultPlan:
    """Probabilities per request (0–1) for each fault, plus link shaping. `paths`: prefixes the faults apply to."""

    drop_request: float = 0.0
    drop_response: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    truncate_response: float = 0.0
    corrupt_response: float = 0.0
    truncate_request: float = 0.0
    corrupt_request: float = 0.0
    error_status: float = 0.0
    retry_after_s: int = 1
    delay_s: float = 0.0
    throttle_bps: float | None = None
    paths: tuple[str, ...] = ("/v1/sync/",)
    script: list[str] = field(default_factory=list)  # faults forced on the next matching requests, in order

    def choose(self, rng: random.Random) -> str | None:
        if self.script:
            fault = self.script.pop(0)
            return None if fault == "pass" else fault
        for name in FAULTS:
            p = float(getattr(self, name))
            if p > 0 and rng.random() < p:
                return name
        return None


class _Link:
    """A shared link of `bps` bytes per second: sending n bytes occupies it for n/bps seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free_at = 0.0

    def transmit(self, nbytes: int, bps: float | None) -> None:
        if not bps or nbytes <= 0:
            return
        with self._lock:
            start = max(time.monotonic(), self._free_at)
            self._free_at = start + nbytes / bps
            done = self._free_at
        pause = done - time.monotonic()
        if pause > 0:
            time.sleep(pause)


class FaultProxy:
    """`with FaultProxy(upstream_port, plan, seed=1) as proxy:` → kiosks talk to `proxy.url`."""

    def __init__(
        self,
        upstream_port: int,
        plan: FaultPlan | None = None,
        *,
        seed: int = 0,
        upstream_host: str = "127.0.0.1",
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.plan = plan or FaultPlan()
        self.rng = random.Random(seed)
        self.stats: Counter[str] = Counter()
        self._rng_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._link = _Link()
        self._stale: list[tuple[str, str, dict[str, str], bytes]] = []
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="fault-proxy", daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> FaultProxy:
        return self.__enter__()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self, key: str, n: int = 1) -> None:
        with self._stats_lock:
            self.stats[key] += n

    def decide(self, path: str) -> str | None:
        if not any(path.startswith(p) for p in self.plan.paths):
            return None
        with self._rng_lock:
            return self.plan.choose(self.rng)

    def mangle(self, body: bytes, how: str) -> bytes:
        """A cut-off or byte-flipped copy of `body` (seeded)."""
        if not body:
            return body
        with self._rng_lock:
            if how == "truncate":
                return body[: self.rng.randrange(0, len(body))]
            out = bytearray(body)
            for _ in range(max(1, len(out) // 50)):
                out[self.rng.randrange(len(out))] ^= 0xFF
            return bytes(out)


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"
    _upstream: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: Any) -> None:
        return

    # One entry point for every method.
    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        owner, plan = self.owner, self.owner.plan
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        head_bytes = len(self.requestline) + 2 + sum(len(k) + len(v) + 4 for k, v in self.headers.items()) + 2
        owner.count("requests")
        owner.count("path:" + self.path.split("?", 1)[0])
        owner.count("bytes_up", head_bytes + len(body))
        owner._link.transmit(head_bytes + len(body), plan.throttle_bps)
        if plan.delay_s:
            time.sleep(plan.delay_s)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        fault = owner.decide(self.path)
        if fault:
            owner.count(fault)
        if fault == "drop_request":
            self._abort()
            return
        if fault == "error_status":
            with owner._rng_lock:
                status = owner.rng.choice((502, 503, 429))
            self._answer(
                status,
                {"Retry-After": str(plan.retry_after_s), "Content-Type": "application/json"},
                b'{"error":"busy","message":"proxy fault"}',
            )
            return
        if fault == "truncate_request":
            body = owner.mangle(body, "truncate")
        elif fault == "corrupt_request":
            body = owner.mangle(body, "corrupt")
        stale = owner._stale.pop(0) if owner._stale else None
        try:
            status, rheaders, rbody = self._forward(self.command, self.path, headers, body)
            if fault == "duplicate":
                status, rheaders, rbody = self._forward(self.command, self.path, headers, body)
            if stale is not None:
                self._forward(*stale)  # the old copy arrives after a newer request
        except OSError:
            self._answer(
                502, {"Content-Type": "application/json"}, b'{"error":"bad_gateway","message":"upstream"}'
            )
            return
        if fault == "reorder":
            owner._stale.append((self.command, self.path, headers, body))
        if fault == "drop_response":
            self._abort()
            return
        if fault == "truncate_response":
            self._answer(status, rheaders, owner.mangle(rbody, "truncate"), claimed=len(rbody))
            self._abort()
            return
        if fault == "corrupt_response":
            rbody = owner.mangle(rbody, "corrupt")
        self._answer(status, rheaders, rbody)

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        for attempt in range(2):
            conn = self._upstream
            if conn is None:
                conn = http.client.HTTPConnection(*self.owner.upstream, timeout=60)
                self._upstream = conn
            try:
                conn.request(method, path, body=body or None, headers=headers)
                response = conn.getresponse()
                data = response.read()
                out = {k: v for k, v in response.getheaders() if k.lower() not in _HOP}
                if response.will_close:
                    conn.close()
                    self._upstream = None
                return response.status, out, data
            except (http.client.HTTPException, OSError):
                conn.close()
                self._upstream = None
                if attempt == 1:
                    raise
        raise OSError("unreachable")

    def _answer(
        self, status: int, headers: dict[str, str], body: bytes, *, claimed: int | None = None
    ) -> None:
        owner = self.owner
        try:
            self.send_response_only(status)
            for key, value in headers.items():
                if key.lower() not in {"date", "server"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(claimed if claimed is not None else len(body)))
            self.end_headers()
            head = sum(len(k) + len(v) + 4 for k, v in headers.items()) + 40
            owner._link.transmit(head + len(body), owner.plan.throttle_bps)
            self.wfile.write(body)
            self.wfile.flush()
            owner.count("bytes_down", head + len(body))
        except OSError:
            self.close_connection = True

    def _abort(self) -> None:
        """Close the client's connection abruptly (RST), as a link that drops does."""
        self.close_connection = True
        try:
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self._upstream is not None:
                self._upstream.close()
                self._upstream = None
