"""Text messages to residents (township.notify): the township's provider, its credentials (never shown again once
saved), quiet hours and the township's own texts; what was sent in the last week. Admins change them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response

from cunzhan.i18n import N_
from township import db, services
from township.console.deps import PREFIX, Admin, Console, ConsoleDep, PostedAdmin, Who, with_done
from township.console.routes.review import MESSAGE_KINDS
from township.console.web import tr
from township.notify.messages import DEFAULT_TEXTS, PARAMS, Kind
from township.notify.outbox import load_settings
from township.notify.service import SettingsError, save_settings

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _page(
    console: Console,
    request: Request,
    who: Who,
    *,
    error: str = "",
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    tid = who.staff.township_id
    with console.db.read() as conn:
        settings = load_settings(conn, tid)
        since = db.naive(db.now_utc() - dt.timedelta(days=7))
        t = db.notifications
        counts: dict[str, int] = dict(
            conn.execute(
                sa.select(t.c.status, sa.func.count())
                .where(t.c.township_id == tid, t.c.created_at >= since)
                .group_by(t.c.status)
            ).all()
        )
    current = form or {
        "provider": settings.provider,
        "config": settings.config,
        "quiet_from": settings.quiet_from.strftime("%H:%M"),
        "quiet_until": settings.quiet_until.strftime("%H:%M"),
        "texts": settings.texts,
    }
    kinds = [
        {
            "kind": k.value,
            "label": tr(MESSAGE_KINDS[k.value], request),
            "default": DEFAULT_TEXTS[k],
            "params": "、".join("{" + p + "}" for p in PARAMS[k]),
        }
        for k in Kind
    ]
    return console.page(
        request,
        who,
        "sms.html",
        {
            "s": current,
            "has_secret": bool(settings.secret),
            "kinds": kinds,
            "counts": counts,
            "error": error,
        },
        title=tr(N_("Text messages to residents"), request),
        nav="kiosks",
        status_code=status_code,
    )


@router.get("/sms")
def sms_get(request: Request, console: ConsoleDep, who: Admin) -> Response:
    return _page(console, request, who)


@router.post("/sms")
async def sms_post(request: Request, console: ConsoleDep, who: PostedAdmin) -> Response:
    form = await request.form()

    def text(name: str, limit: int = 300) -> str:
        value = form.get(name, "")
        return value.strip()[:limit] if isinstance(value, str) else ""

    provider = text("provider", 16)
    config = {
        "sdk_app_id": text("sdk_app_id", 40),
        "sign_name": text("sign_name", 40),
        "region": text("region", 40) or "ap-guangzhou",
        "template_ids": {k.value: text("template_" + k.value, 20) for k in Kind},
        "url": text("url", 300),
    }
    secret: dict[str, str] | None = None
    if provider == "tencent" and (text("secret_id", 100) or text("secret_key", 100)):
        secret = {"secret_id": text("secret_id", 100), "secret_key": text("secret_key", 100)}
    elif provider == "http" and text("secret", 200):
        secret = {"secret": text("secret", 200)}
    texts = {k.value: text("text_" + k.value, 400) for k in Kind}
    quiet_from, quiet_until = text("quiet_from", 5), text("quiet_until", 5)
    try:
        with console.db.write() as conn:
            save_settings(
                conn,
                who.staff.township_id,
                provider=provider,
                config=config,
                secret=secret,
                quiet_from=quiet_from,
                quiet_until=quiet_until,
                texts=texts,
            )
            services.record(conn, who.staff.id, "sms_settings_changed", provider)
    except SettingsError as exc:
        shown = {"provider": provider, "config": config, "quiet_from": quiet_from, "quiet_until": quiet_until}
        error = tr(exc.msgid, request).format(**exc.params)
        return _page(console, request, who, error=error, form=shown | {"texts": texts}, status_code=400)
    return console.redirect(request, who, with_done(PREFIX + "/sms", "sms_saved"))
