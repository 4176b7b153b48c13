"""Where a message goes: Tencent Cloud SMS (its maintained SDK) or a county's own HTTP SMS gateway.

A provider either returns `Sent` (with the provider's message id) or raises `SendFailed`, which says whether trying
again later can help (`retry`). Nothing here logs or puts into an exception a phone number, a text, or a credential:
error details are the provider's error code only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from township.notify.messages import Kind, ordered


@dataclass(frozen=True)
class Sent:
    message_id: str


class SendFailed(Exception):
    """The provider did not take the message. `code` is the provider's error code (no personal data)."""

    def __init__(self, code: str, *, retry: bool) -> None:
        super().__init__(code)
        self.code = code
        self.retry = retry


class Provider(Protocol):
    name: str

    def send(
        self, *, notification_id: str, phone: str, kind: Kind, params: dict[str, str], text: str
    ) -> Sent:
        """Send one message to `phone` (E.164, "+86…"); raises SendFailed."""
        ...


def e164(phone: str) -> str:
    """A mainland mobile number (11 digits) in the international form providers want."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if phone.strip().startswith("+"):
        return "+" + digits
    return "+86" + digits


# --- Tencent Cloud SMS -----------------------------------------------------------------------------------------------

# Error codes after which the same request may succeed later (rate limits, the provider's own trouble, the network).
_TENCENT_RETRY_PREFIXES = (
    "LimitExceeded",
    "InternalError",
    "RequestLimitExceeded",
    "ClientNetworkError",
    "ServerNetworkError",
)


@dataclass(frozen=True)
class TencentConfig:
    secret_id: str
    secret_key: str = field(repr=False)
    sdk_app_id: str
    sign_name: str  # the approved signature, e.g. 村站服务
    template_ids: dict[str, str]  # Kind value → approved template id
    region: str = "ap-guangzhou"
    endpoint: str = ""  # "" → sms.tencentcloudapi.com; tests point it at a stand-in server
    scheme: str = "https"
    timeout_s: int = 10


class TencentSms:
    name = "tencent"

    def __init__(self, config: TencentConfig) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        # The SDK logs whole requests (numbers, texts) at DEBUG: never, whatever the backend's log level.
        logging.getLogger("tencentcloud_sdk_common").setLevel(logging.WARNING)
        http = HttpProfile(
            protocol=config.scheme, endpoint=config.endpoint or None, reqTimeout=config.timeout_s
        )
        profile = ClientProfile(signMethod="TC3-HMAC-SHA256", httpProfile=http)
        cred = credential.Credential(config.secret_id, config.secret_key)
        self._client = sms_client.SmsClient(cred, config.region, profile)
        self._config = config

    def send(
        self, *, notification_id: str, phone: str, kind: Kind, params: dict[str, str], text: str
    ) -> Sent:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.sms.v20210111 import models

        template_id = self._config.template_ids.get(kind.value)
        if not template_id:
            raise SendFailed("NoTemplateId", retry=False)
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [e164(phone)]
        request.SmsSdkAppId = self._config.sdk_app_id
        request.SignName = self._config.sign_name
        request.TemplateId = template_id
        request.TemplateParamSet = ordered(kind, params)
        request.SessionContext = notification_id  # echoed in delivery reports: which notification this was
        try:
            response = self._client.SendSms(request)
        except TencentCloudSDKException as exc:
            code = str(exc.get_code() or "Unknown")
            raise SendFailed(code, retry=code.startswith(_TENCENT_RETRY_PREFIXES)) from None
        except (OSError, ValueError) as exc:  # connection refused/reset, a body that is not JSON
            raise SendFailed(type(exc).__name__, retry=True) from None
        statuses = list(response.SendStatusSet or [])
        if len(statuses) != 1:
            raise SendFailed("NoStatus", retry=True)
        status = statuses[0]
        if status.Code != "Ok":
            code = str(status.Code)
            raise SendFailed(code, retry=code.startswith(_TENCENT_RETRY_PREFIXES))
        return Sent(str(status.SerialNo))


# --- a county's own HTTP gateway -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpGatewayConfig:
    url: str
    secret: str = field(repr=False)  # shared HMAC key
    timeout_s: float = 10.0


def gateway_signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "timestamp\\nbody", hex: what the gateway checks (documented in docs/notifications.md)."""
    return hmac.new(secret.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()


class HttpGateway:
    """POST {"id", "phone", "text"} as JSON, signed; `Idempotency-Key` is the notification id, so a gateway that
    honours it never sends a retried request twice."""

    name = "http"

    def __init__(self, config: HttpGatewayConfig) -> None:
        import requests

        self._config = config
        self._http = requests.Session()
        self._http.trust_env = False  # no proxy from the environment sees the texts

    def send(
        self, *, notification_id: str, phone: str, kind: Kind, params: dict[str, str], text: str
    ) -> Sent:
        import requests

        body = json.dumps(
            {"id": notification_id, "phone": e164(phone), "text": text}, ensure_ascii=False
        ).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": notification_id,
            "X-Cunzhan-Timestamp": stamp,
            "X-Cunzhan-Signature": gateway_signature(self._config.secret, stamp, body),
        }
        try:
            response = self._http.post(
                self._config.url, data=body, headers=headers, timeout=self._config.timeout_s
            )
        except requests.RequestException as exc:
            raise SendFailed(type(exc).__name__, retry=True) from None
        if response.status_code in (408, 425, 429) or response.status_code >= 500:
            raise SendFailed(f"HTTP {response.status_code}", retry=True)
        if response.status_code >= 300:
            raise SendFailed(f"HTTP {response.status_code}", retry=False)
        try:
            answer: Any = response.json()
        except ValueError:
            answer = {}
        message_id = answer.get("message_id") if isinstance(answer, dict) else None
        return Sent(str(message_id or notification_id))
