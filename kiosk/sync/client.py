"""HTTP client for the township backend (SYNC.md "Transport"): one `requests.Session` per worker.

- Timeouts on every request: connect 5 s, read 30 s.
- Request bodies are gzip-compressed (`Content-Encoding: gzip`); responses are asked for gzip.
- The device token travels as `Authorization: Bearer …`. It is never put into an exception text, a log or `repr`.
- TLS certificates are always verified. `verify=False` is refused outright; a certificate that does not verify is a
  `TLSRefused` error with a plain message, never silently accepted. A private township CA can be trusted by passing
  its bundle path as `ca_bundle` (or `REQUESTS_CA_BUNDLE`).
- Whole-request failures become typed `SyncError`s; responses are parsed with the `protocol` models, so a truncated
  or corrupted body is a `BadResponse`, never a half-applied page.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import math
import time
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, ValidationError

from cunzhan import protocol
from cunzhan.i18n import N_, gettext

if TYPE_CHECKING:
    from kiosk.store import Store

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
ASK_TIMEOUT_S = (2.0, 3.0)  # asked while a resident waits (rating invitations): connect, read

M = TypeVar("M", bound=BaseModel)


class SyncError(RuntimeError):
    """A whole request failed. `kind` is a short code for `sync_state.last_error`; `message()` is for staff."""

    kind = "error"
    text = N_("The township service could not be reached.")

    def __init__(self, detail: str = "", *, status: int | None = None) -> None:
        self.detail = detail
        self.status = status
        super().__init__(f"{self.kind}: {detail}" if detail else self.kind)

    def message(self) -> str:
        """A sentence for staff in the UI language (no personal data, no token)."""
        return gettext(self.text)

    @property
    def transient(self) -> bool:
        """Whether retrying later (with backoff) may succeed without anyone doing anything."""
        return True


class LinkDown(SyncError):
    """No connection, a timeout, or a connection cut mid-response."""

    kind = "offline"
    text = N_(
        "There is no connection to the township service. The kiosk keeps working and will send "
        "everything when the link is back."
    )


class TLSRefused(SyncError):
    """The server's certificate does not verify: refused, never accepted."""

    kind = "certificate"
    text = N_(
        "The township service's certificate could not be verified, so the kiosk refused to connect. "
        "Check the township address, or ask the township technician to install a valid certificate."
    )

    @property
    def transient(self) -> bool:
        return False


class Unauthorized(SyncError):
    """401: no token or a token the backend does not know."""

    kind = "unauthorized"
    text = N_(
        "The township service did not accept this kiosk's credentials. Enrol the kiosk again with a new "
        "enrolment code from the township console."
    )

    @property
    def transient(self) -> bool:
        return False


class Forbidden(SyncError):
    """403: a revoked device, a foreign device id, or (on enrolment) a bad, used or expired code."""

    kind = "forbidden"
    text = N_(
        "The township service refused this kiosk: it may have been revoked. Ask the township for a new "
        "enrolment code and enrol the kiosk again."
    )

    @property
    def transient(self) -> bool:
        return False


class CursorExpired(SyncError):
    """410: the pull cursor is unknown or expired; pull again from the start."""

    kind = "cursor_expired"
    text = N_("The kiosk is reloading the township's schedule from the start.")


class TooLarge(SyncError):
    """413: the batch is too large for the backend."""

    kind = "too_large"
    text = N_("A batch of changes was too large for the township service; the kiosk sends smaller batches.")


class Busy(SyncError):
    """429 or 503: the backend asks the kiosk to come back after `retry_after` seconds."""

    kind = "busy"
    text = N_("The township service is busy. The kiosk will try again shortly.")

    def __init__(
        self, detail: str = "", *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(detail, status=status)
        self.retry_after = retry_after


class ServerError(SyncError):
    """Another 5xx (or an unexpected status)."""

    kind = "server_error"
    text = N_("The township service had a problem. The kiosk will try again shortly.")


class BadRequest(SyncError):
    """400: the backend says the request is malformed (a bug on one side; retried, reported to staff)."""

    kind = "malformed"
    text = N_("The township service did not understand the kiosk's request. Tell the township technician.")


class BadResponse(SyncError):
    """A response that is not what the protocol says (truncated, corrupted, wrong shape)."""

    kind = "bad_response"
    text = N_("The answer from the township service was damaged on the way. The kiosk will try again.")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date); None when absent or unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, min(seconds, 3600.0))


def check_url(url: str) -> str:
    """Normalise a township address (`https://host[:port]`, no path); raises ValueError with a plain reason."""
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(gettext(N_("The township address must look like https://hall.example.cn:8700")))
    if parts.query or parts.fragment:
        raise ValueError(gettext(N_("The township address must not contain ? or #.")))
    try:
        _ = parts.port
    except ValueError as exc:
        raise ValueError(gettext(N_("The port in the township address is not a number."))) from exc
    if parts.scheme == "http" and not _is_local(parts.hostname):
        # The device token and residents' details must not cross a public network in clear.
        raise ValueError(
            gettext(N_("Use an https:// address: plain http is only allowed inside the local network."))
        )
    return text


def _is_local(host: str) -> bool:
    """Loopback or private-network host (where plain http is acceptable, e.g. the demo on one machine)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


class TownshipClient(requests.Session):
    """A session bound to one township backend and (after enrolment) one device token."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        ca_bundle: str | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
    ) -> None:
        super().__init__()
        self.base_url = check_url(base_url)
        self._token = token
        self.timeout = timeout
        # Verification is always on; a private CA may be added, never verification removed.
        self.verify = ca_bundle or True
        self.headers["Accept-Encoding"] = "gzip"
        self.headers["Accept"] = "application/json"
        from kiosk import __version__

        self.headers["User-Agent"] = f"cunzhan-kiosk/{__version__}"

    def __repr__(self) -> str:  # the token must never appear in a repr, log line or crash report
        return f"TownshipClient({self.base_url!r}, token={'set' if self._token else 'none'})"

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """Every request: timeouts, verification forced on, typed network errors."""
        if kwargs.get("verify") is False or self.verify is False:
            raise TLSRefused("certificate verification cannot be turned off")
        kwargs.setdefault("timeout", self.timeout)
        # Pass the session's anchor explicitly: requests lets REQUESTS_CA_BUNDLE override a session-level path.
        kwargs.setdefault("verify", self.verify)
        try:
            return super().request(method, url, *args, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise TLSRefused(type(exc).__name__) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            # ChunkedEncodingError and ContentDecodingError are ConnectionError/RequestException subclasses too:
            # a body cut mid-way means the link failed, so the request is retried as a whole.
            raise LinkDown(type(exc).__name__) from None
        except requests.exceptions.RequestException as exc:
            raise BadResponse(type(exc).__name__) from None

    # --- protocol calls ---------------------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.base_url + protocol.API_PREFIX + path

    def _auth(self) -> dict[str, str]:
        if not self._token:
            raise Unauthorized("no device token")
        return {"Authorization": f"Bearer {self._token}"}

    def _send_json(
        self, method: str, path: str, body: Any, headers: dict[str, str], **kwargs: Any
    ) -> requests.Response:
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        packed = gzip.compress(raw, compresslevel=9, mtime=0)  # batches are small; every byte costs on 2G
        headers = {**headers, "Content-Type": "application/json", "Content-Encoding": "gzip"}
        return self.request(method, self._url(path), data=packed, headers=headers, **kwargs)

    def _parse(self, response: requests.Response, model: type[M], *, ok: tuple[int, ...] = (200,)) -> M:
        status = response.status_code
        try:
            content = response.content
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as exc:
            raise LinkDown(type(exc).__name__) from None
        except requests.exceptions.ContentDecodingError as exc:
            raise BadResponse(type(exc).__name__) from None
        if status in ok:
            try:
                return model.model_validate_json(content)
            except ValidationError:
                raise BadResponse(
                    f"HTTP {status}: body does not match {model.__name__}", status=status
                ) from None
        detail = _error_code(content) or f"HTTP {status}"
        if status == 400:
            raise BadRequest(detail, status=status)
        if status == 401:
            raise Unauthorized(detail, status=status)
        if status == 403:
            raise Forbidden(detail, status=status)
        if status == 410:
            raise CursorExpired(detail, status=status)
        if status == 413:
            raise TooLarge(detail, status=status)
        if status in (429, 503):
            raise Busy(
                detail, status=status, retry_after=parse_retry_after(response.headers.get("Retry-After"))
            )
        if 500 <= status < 600:
            raise ServerError(detail, status=status)
        raise BadResponse(detail, status=status)

    def health(self) -> protocol.Health:
        """The cheap connectivity probe."""
        return self._parse(self.request("GET", self._url("/health")), protocol.Health)

    def enroll(self, request: protocol.EnrollRequest) -> protocol.EnrollResponse:
        """Exchange an enrolment code for a device id and token."""
        response = self._send_json("POST", "/enroll", request.model_dump(), {})
        return self._parse(response, protocol.EnrollResponse, ok=(200, 201))

    def push(self, body: dict[str, Any]) -> protocol.PushResponse:
        """Send one batch of outbox ops (`body` is a PushRequest as plain JSON data)."""
        response = self._send_json("POST", "/sync/push", body, self._auth())
        return self._parse(response, protocol.PushResponse)

    def pull(self, cursor: str | None, limit: int = protocol.PULL_DEFAULT_LIMIT) -> protocol.PullResponse:
        """One page of changes after `cursor` (None: from the start)."""
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = self.request("GET", self._url("/sync/pull"), params=params, headers=self._auth())
        return self._parse(response, protocol.PullResponse)

    def ask_rating(self, id_number: str) -> protocol.RatingInvitation | None:
        """The session booked at another kiosk that the resident with this ID number attended and may rate (POST
        /v1/ratings/ask), or None. Short timeouts: a resident is waiting at the screen."""
        response = self._send_json(
            "POST", "/ratings/ask", {"id_number": id_number}, self._auth(), timeout=ASK_TIMEOUT_S
        )
        return self._parse(response, protocol.RatingAskResponse).invitation

    def calls(self, after: int, wait: int = protocol.CALLS_MAX_WAIT) -> protocol.CallsResponse:
        """The waiting-room calls for this kiosk after seq `after` (GET /v1/calls), the answer held open by the
        township up to `wait` seconds until there is one; the read timeout allows for that wait."""
        response = self.request(
            "GET",
            self._url("/calls"),
            params={"after": after, "wait": wait},
            headers=self._auth(),
            timeout=(self.timeout[0], wait + self.timeout[1]),
        )
        return self._parse(response, protocol.CallsResponse)


def _error_code(content: bytes) -> str:
    """The `error` code of an error body, if it is one (only the code: messages may be long)."""
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(body, dict):
        if isinstance(body.get("error"), str):
            return str(body["error"])[:64]
        detail = body.get("detail")
        if isinstance(detail, dict) and isinstance(detail.get("error"), str):
            return str(detail["error"])[:64]
    return ""


def enrolled_client(store: Store, *, ca_bundle: str | None = None) -> TownshipClient | None:
    """A client for an enrolled kiosk (address and device id in sync_state, token in the keyring), else None: not
    enrolled, or the keyring cannot give the token. For the kiosk's own requests beside the sync engine (the
    waiting-room call listener, the rating ask)."""
    from kiosk.store.sync_state import SyncKey
    from kiosk.sync import credentials

    url = store.state(SyncKey.TOWNSHIP_URL)
    if not url or not store.state(SyncKey.DEVICE_ID):
        return None
    try:
        token = credentials.load_token(store.path.parent)
    except credentials.CredentialError:
        return None
    return TownshipClient(url, token, ca_bundle=ca_bundle) if token else None
