"""A stand-in SMS provider on 127.0.0.1 that checks what the real ones check.

- Tencent Cloud SMS `SendSms` (API 2021-01-11): the TC3-HMAC-SHA256 signature over the exact body and the
  content-type/host headers, a timestamp within 5 minutes, the action and version headers, the SDK app id, the sign
  name, an approved template id and the number of template parameters that template has, and numbers in +86 form.
  Errors come back in Tencent's shape (`{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`).
- A county HTTP gateway: the HMAC-SHA256 signature over "timestamp\\nbody" and the `Idempotency-Key` (a repeated key
  is answered with the first message id and not sent again).

`fail_next` makes the next requests fail (an HTTP status or a Tencent error code) to test retries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Delivered:
    provider: str
    phone: str
    template_id: str
    params: list[str]
    text: str
    message_id: str
    context: str


@dataclass
class StandIn:
    secret_id: str = "AKIDstandin"
    secret_key: str = "standin-secret-key"
    sdk_app_id: str = "1400000001"
    sign_name: str = "村站服务"
    templates: dict[str, int] = field(default_factory=dict)  # approved template id → parameter count
    gateway_secret: str = "gateway-secret"
    delivered: list[Delivered] = field(default_factory=list)
    requests_seen: int = 0
    failures: list[str] = field(default_factory=list)  # next failures: "503" or a Tencent error code
    _idempotent: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def fail_next(self, *failures: str) -> None:
        with self._lock:
            self.failures.extend(failures)

    def start(self) -> StandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with standin._lock:
                    standin.requests_seen += 1
                    failure = standin.failures.pop(0) if standin.failures else None
                if failure and failure.isdigit():
                    self._answer(int(failure), {"error": "stand-in failure"})
                    return
                if self.path.startswith("/gateway"):
                    self._gateway(body, failure)
                else:
                    self._tencent(body, failure)

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _tencent_error(self, code: str, message: str) -> None:
                self._answer(
                    200, {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "r"}}
                )

            def _tencent(self, body: bytes, failure: str | None) -> None:
                problem = standin.check_tc3(dict(self.headers.items()), body)
                if problem:
                    self._tencent_error(*problem)
                    return
                if failure:
                    self._tencent_error(failure, "stand-in failure")
                    return
                req = json.loads(body)
                if req.get("SmsSdkAppId") != standin.sdk_app_id:
                    self._tencent_error("FailedOperation.SmsSdkAppIdVerifyFail", "app id")
                    return
                if req.get("SignName") != standin.sign_name:
                    self._tencent_error("FailedOperation.SignatureIncorrectOrUnapproved", "sign name")
                    return
                template = str(req.get("TemplateId"))
                params = req.get("TemplateParamSet") or []
                if template not in standin.templates:
                    self._tencent_error("FailedOperation.TemplateIncorrectOrUnapproved", "template")
                    return
                if len(params) != standin.templates[template] or not all(isinstance(p, str) for p in params):
                    self._tencent_error("InvalidParameterValue.TemplateParameterFormatError", "params")
                    return
                statuses = []
                for phone in req.get("PhoneNumberSet") or []:
                    ok = isinstance(phone, str) and phone.startswith("+861") and len(phone) == 14
                    serial = uuid.uuid4().hex
                    if ok:
                        with standin._lock:
                            standin.delivered.append(
                                Delivered(
                                    "tencent",
                                    phone,
                                    template,
                                    list(params),
                                    "",
                                    serial,
                                    req.get("SessionContext", ""),
                                )
                            )
                    statuses.append(
                        {
                            "SerialNo": serial if ok else "",
                            "PhoneNumber": phone,
                            "Fee": 1 if ok else 0,
                            "SessionContext": req.get("SessionContext", ""),
                            "Code": "Ok" if ok else "InvalidParameterValue.IncorrectPhoneNumber",
                            "Message": "send success" if ok else "incorrect number",
                            "IsoCode": "CN",
                        }
                    )
                self._answer(200, {"Response": {"SendStatusSet": statuses, "RequestId": uuid.uuid4().hex}})

            def _gateway(self, body: bytes, failure: str | None) -> None:
                stamp = self.headers.get("X-Cunzhan-Timestamp", "")
                expected = hmac.new(
                    standin.gateway_secret.encode(), stamp.encode() + b"\n" + body, hashlib.sha256
                ).hexdigest()
                if not hmac.compare_digest(expected, self.headers.get("X-Cunzhan-Signature", "")):
                    self._answer(401, {"error": "bad signature"})
                    return
                if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
                    self._answer(401, {"error": "stale"})
                    return
                key = self.headers.get("Idempotency-Key", "")
                req = json.loads(body)
                with standin._lock:
                    if key and key in standin._idempotent:
                        self._answer(200, {"message_id": standin._idempotent[key]})
                        return
                    message_id = uuid.uuid4().hex
                    standin._idempotent[key] = message_id
                    standin.delivered.append(
                        Delivered("http", req["phone"], "", [], req["text"], message_id, req["id"])
                    )
                self._answer(200, {"message_id": message_id})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def check_tc3(self, headers: dict[str, str], body: bytes) -> tuple[str, str] | None:
        """None when the request is signed as Tencent Cloud requires, else (error code, message)."""
        h = {k.lower(): v for k, v in headers.items()}
        if h.get("x-tc-action") != "SendSms" or h.get("x-tc-version") != "2021-01-11":
            return ("InvalidAction", "action/version")
        auth = h.get("authorization", "")
        prefix = "TC3-HMAC-SHA256 Credential="
        if not auth.startswith(prefix):
            return ("AuthFailure.SignatureFailure", "algorithm")
        try:
            cred, signed, signature = (part.strip() for part in auth[len(prefix) :].split(","))
            secret_id, date, service, terminator = cred.split("/")
        except ValueError:
            return ("AuthFailure.SignatureFailure", "authorization")
        if secret_id != self.secret_id:
            return ("AuthFailure.SecretIdNotFound", "secret id")
        stamp = h.get("x-tc-timestamp", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return ("AuthFailure.SignatureExpire", "timestamp")
        if service != "sms" or terminator != "tc3_request" or signed != "SignedHeaders=content-type;host":
            return ("AuthFailure.SignatureFailure", "scope")
        canonical = "\n".join(
            [
                "POST",
                "/",
                "",
                f"content-type:{h.get('content-type', '')}\nhost:{h.get('host', '')}\n",
                "content-type;host",
                hashlib.sha256(body).hexdigest(),
            ]
        )
        to_sign = "\n".join(
            [
                "TC3-HMAC-SHA256",
                stamp,
                f"{date}/{service}/tc3_request",
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )

        def mac(key: bytes, msg: str) -> bytes:
            return hmac.new(key, msg.encode(), hashlib.sha256).digest()

        key = mac(mac(mac(("TC3" + self.secret_key).encode(), date), service), "tc3_request")
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.removeprefix("Signature=")):
            return ("AuthFailure.SignatureFailure", "signature")
        return None
