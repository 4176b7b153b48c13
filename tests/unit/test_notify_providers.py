"""The real provider clients (Tencent Cloud's SDK, the HTTP gateway client) against the stand-in server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.sms_standin import StandIn
from township.notify.messages import DEFAULT_TEXTS, PARAMS, Kind, TemplateError, check_template, render
from township.notify.providers import (
    HttpGateway,
    HttpGatewayConfig,
    SendFailed,
    TencentConfig,
    TencentSms,
)

PARAMS_CONFIRMED = {"what": "远程问诊", "when": "12月3日 上午9:00", "code": "0012-3456"}


@pytest.fixture
def standin() -> Iterator[StandIn]:
    server = StandIn(templates={"1001": 3, "1002": 3}).start()
    yield server
    server.stop()


def tencent(standin: StandIn, **changes: object) -> TencentSms:
    config = TencentConfig(
        secret_id=standin.secret_id,
        secret_key=standin.secret_key,
        sdk_app_id=standin.sdk_app_id,
        sign_name=standin.sign_name,
        template_ids={
            Kind.CONFIRMED.value: "1001",
            Kind.REMINDER_DAY.value: "1002",
            Kind.REJECTED.value: "9999",
        },
        endpoint=standin.endpoint,
        scheme="http",
        timeout_s=5,
    )
    return TencentSms(replace(config, **changes))  # type: ignore[arg-type]


def send(provider: TencentSms | HttpGateway, kind: Kind = Kind.CONFIRMED, phone: str = "13800138000") -> str:
    return provider.send(
        notification_id="n-1",
        phone=phone,
        kind=kind,
        params=PARAMS_CONFIRMED,
        text=render(kind, PARAMS_CONFIRMED),
    ).message_id


def test_tencent_sdk_request_is_signed_and_carries_template_and_params(standin: StandIn) -> None:
    message_id = send(tencent(standin))
    [got] = standin.delivered
    assert got.phone == "+8613800138000" and got.template_id == "1001"
    assert got.params == ["远程问诊", "12月3日 上午9:00", "0012-3456"] and got.context == "n-1"
    assert message_id == got.message_id


def test_tencent_wrong_secret_is_refused_by_signature_and_not_retried(standin: StandIn) -> None:
    with pytest.raises(SendFailed) as caught:
        send(tencent(standin, secret_key="not-the-key"))
    assert caught.value.code == "AuthFailure.SignatureFailure" and not caught.value.retry
    assert standin.delivered == []
    assert "not-the-key" not in repr(tencent(standin, secret_key="not-the-key")._config)


def test_tencent_unapproved_template_and_bad_number_are_permanent(standin: StandIn) -> None:
    with pytest.raises(SendFailed) as caught:
        send(tencent(standin), kind=Kind.REJECTED)  # template 9999 was never approved
    assert caught.value.code == "FailedOperation.TemplateIncorrectOrUnapproved" and not caught.value.retry
    with pytest.raises(SendFailed) as caught:
        send(tencent(standin), phone="1380013")
    assert caught.value.code == "InvalidParameterValue.IncorrectPhoneNumber" and not caught.value.retry
    with pytest.raises(SendFailed) as caught:
        send(tencent(standin), kind=Kind.SESSION_CANCELLED)  # no template id configured for it
    assert caught.value.code == "NoTemplateId"


def test_tencent_rate_limit_and_unreachable_provider_are_retried(standin: StandIn) -> None:
    standin.fail_next("LimitExceeded.PhoneNumberThirtySecondLimit")
    with pytest.raises(SendFailed) as caught:
        send(tencent(standin))
    assert caught.value.retry
    gone = tencent(standin, endpoint="127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(SendFailed) as caught:
        send(gone)
    assert caught.value.retry


def test_http_gateway_signs_and_is_idempotent(standin: StandIn) -> None:
    gateway = HttpGateway(HttpGatewayConfig(f"http://{standin.endpoint}/gateway", standin.gateway_secret))
    first, again = send(gateway), send(gateway)  # the same notification id twice: one SMS
    assert first == again and len(standin.delivered) == 1
    assert (
        standin.delivered[0].text.startswith("您预约的远程问诊已确认")
        and standin.delivered[0].phone == "+8613800138000"
    )
    wrong = HttpGateway(HttpGatewayConfig(f"http://{standin.endpoint}/gateway", "wrong"))
    with pytest.raises(SendFailed) as caught:
        send(wrong)
    assert caught.value.code == "HTTP 401" and not caught.value.retry
    standin.fail_next("503")
    with pytest.raises(SendFailed) as caught:
        send(gateway)
    assert caught.value.retry


def test_default_texts_name_only_their_parameters_and_fit_one_sms() -> None:
    for kind in Kind:
        check_template(kind, DEFAULT_TEXTS[kind])
        params = {name: "x" * 8 for name in PARAMS[kind]}
        assert len(render(kind, params)) <= 70, kind


def test_township_template_is_checked() -> None:
    from cunzhan.i18n import use_locale

    with pytest.raises(TemplateError) as caught:
        check_template(Kind.CONFIRMED, "您的{name}已确认")
    assert caught.value.message.startswith("不认识的参数：{name}") and "{what}" in caught.value.message
    with use_locale("en"):
        assert caught.value.message.startswith("Unknown parameter: {name}")
    with pytest.raises(TemplateError) as caught:
        check_template(Kind.CONFIRMED, "您的{what已确认")
    assert "大括号" in caught.value.message
    with pytest.raises(TemplateError):
        check_template(Kind.CONFIRMED, "  ")
    assert check_template(Kind.CONFIRMED, " {what}：{when} ") == "{what}：{when}"
