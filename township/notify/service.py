"""Running the outbox: a township's settings saved from the console or the command line, the provider built from
them, and the loop a `serve` process runs (every `EVERY_S`: recover, queue reminders, send what is due)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from typing import Any

import sqlalchemy as sa

from cunzhan.fieldcrypto import field_ref
from cunzhan.i18n import N_
from township import db
from township.notify import outbox
from township.notify.messages import Kind, TemplateError, check_template
from township.notify.providers import HttpGateway, HttpGatewayConfig, Provider, TencentConfig, TencentSms

log = logging.getLogger(__name__)
EVERY_S = 30.0
PROVIDERS = ("off", "tencent", "http")
# Which settings are public (shown again in the console) and which are credentials (encrypted, never shown again).
PUBLIC = {
    "tencent": ("sdk_app_id", "sign_name", "region", "endpoint", "scheme", "template_ids"),
    "http": ("url",),
}
SECRET = {"tencent": ("secret_id", "secret_key"), "http": ("secret",)}


class SettingsError(ValueError):
    """Settings that cannot be saved. `msgid` (English, translatable) and `params` say why; `message` is it in the
    current language."""

    def __init__(self, msgid: str, **params: str) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params

    @property
    def message(self) -> str:
        from cunzhan.i18n import gettext

        return gettext(self.msgid).format(**self.params)


def _hhmm(text: str) -> str:
    try:
        clock = dt.datetime.strptime(text.strip(), "%H:%M").time()
    except ValueError:
        raise SettingsError(N_("Write quiet hours as a time such as 21:00.")) from None
    return clock.strftime("%H:%M")


def _public(provider: str, config: dict[str, Any]) -> dict[str, Any]:
    if provider not in PROVIDERS:
        raise SettingsError(N_("Unknown SMS provider."))
    public = {k: config[k] for k in PUBLIC.get(provider, ()) if k in config}
    if provider == "tencent":
        ids = public.get("template_ids") or {}
        if not isinstance(ids, dict) or not set(ids) <= {k.value for k in Kind}:
            raise SettingsError(N_("The template ids are not set right."))
        public["template_ids"] = {k: str(v).strip() for k, v in ids.items() if str(v).strip()}
        if not public.get("sdk_app_id") or not public.get("sign_name"):
            raise SettingsError(N_("Please give the SMS app id (SdkAppId) and the approved signature."))
    if provider == "http" and not str(public.get("url", "")).startswith(("https://", "http://127.0.0.1")):
        raise SettingsError(N_("The SMS gateway address must start with https://."))
    return public


def _checked_texts(texts: dict[str, str]) -> dict[str, str]:
    checked = {}
    for kind, text in texts.items():
        if text.strip():
            try:
                checked[kind] = check_template(Kind(kind), text)
            except TemplateError as exc:
                raise SettingsError(exc.msgid, **exc.params) from None
    return checked


def save_settings(
    conn: Any,
    township_id: str,
    *,
    provider: str,
    config: dict[str, Any],
    secret: dict[str, str] | None = None,
    quiet_from: str = "21:00",
    quiet_until: str = "08:00",
    texts: dict[str, str] | None = None,
) -> None:
    """Save a township's SMS settings. `secret` None keeps the credentials saved before (they are never shown, so a
    form that does not repeat them must not erase them). Raises SettingsError; nothing is saved then."""
    from township.keys import cipher_for

    public = _public(provider, config)
    checked = _checked_texts(texts or {})
    row = conn.execute(
        sa.select(db.notify_settings).where(db.notify_settings.c.township_id == township_id)
    ).first()
    where = field_ref("notify_settings", "secret_enc", township_id)
    if secret is not None and provider != "off":
        if any(not secret.get(k) for k in SECRET[provider]):
            raise SettingsError(N_("Please give the credentials."))
        sealed = cipher_for(conn).encrypt(json.dumps({k: secret[k] for k in SECRET[provider]}), where=where)
    elif row is not None and row.provider == provider:
        sealed = row.secret_enc
    elif provider == "off":
        sealed = None
    else:
        raise SettingsError(N_("Please give the credentials."))
    values = {
        "provider": provider,
        "config": public,
        "secret_enc": sealed,
        "quiet_from": _hhmm(quiet_from),
        "quiet_until": _hhmm(quiet_until),
        "texts": checked,
        "updated_at": db.naive(db.now_utc()),
    }
    if row is None:
        conn.execute(sa.insert(db.notify_settings).values(township_id=township_id, **values))
    else:
        conn.execute(
            sa.update(db.notify_settings)
            .where(db.notify_settings.c.township_id == township_id)
            .values(**values)
        )


def provider_for(settings: outbox.Settings) -> Provider | None:
    """The provider a township's settings describe (None when SMS is off or the settings are incomplete)."""
    c, s = settings.config, settings.secret
    if settings.provider == "tencent" and s.get("secret_id") and s.get("secret_key"):
        return TencentSms(
            TencentConfig(
                secret_id=s["secret_id"],
                secret_key=s["secret_key"],
                sdk_app_id=str(c.get("sdk_app_id", "")),
                sign_name=str(c.get("sign_name", "")),
                template_ids={str(k): str(v) for k, v in dict(c.get("template_ids") or {}).items()},
                region=str(c.get("region") or "ap-guangzhou"),
                endpoint=str(c.get("endpoint") or ""),
                scheme=str(c.get("scheme") or "https"),
            )
        )
    if settings.provider == "http" and s.get("secret") and c.get("url"):
        return HttpGateway(HttpGatewayConfig(str(c["url"]), s["secret"]))
    return None


def run_once(database: db.Database, *, now: dt.datetime | None = None) -> dict[str, int]:
    """One turn of the loop: recover crashed sends, queue reminders, send what is due."""
    now = now or db.now_utc()
    recovered = outbox.recover(database, now=now)
    with database.write() as conn:
        reminders = outbox.queue_reminders(conn, now=now)
    return outbox.send_due(database, provider_for, now=now) | {"recovered": recovered, "reminders": reminders}


def start(database: db.Database, *, every_s: float = EVERY_S) -> threading.Event:
    """Run `run_once` every `every_s` on a daemon thread until the returned event is set. Several processes may run
    it at once (claims skip each other's rows); a failing turn is logged by exception type only."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                run_once(database)
            except Exception as exc:  # never stop the backend; never log a message's data
                log.warning("notifications: %s", type(exc).__name__)

    threading.Thread(target=loop, name="notifications", daemon=True).start()
    return stop
