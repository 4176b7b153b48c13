"""Rendering for the staff console: one Jinja2 environment, translated per request, escaped by default.

Templates call `{{ _("English text") }}`; the English ids are extracted by tools/i18n.py and translated in the
`console` catalog. The language is chosen per request (a cookie, Chinese by default) and applied with
`cunzhan.i18n.use_locale` around the render, which is thread-local, so each request sees its own language.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from cunzhan import i18n
from cunzhan.codes import format_code

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
LANG_COOKIE = "cz_lang"


def _gettext(message: str) -> str:
    return i18n.gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return i18n.ngettext(singular, plural, n)


def _zone(context: Any) -> zoneinfo.ZoneInfo:
    """The signed-in staff member's township's zone, which every page showing times is given (`zone`)."""
    zone = context.get("zone")
    if not isinstance(zone, zoneinfo.ZoneInfo):
        raise RuntimeError("a console page showing times needs the township's zone")
    return zone


def local_time(value: dt.datetime | str | None, zone: zoneinfo.ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC moment in the township's local time, for people to read."""
    if value is None or value == "":
        return ""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone).strftime(fmt)


@jinja2.pass_context
def _local(context: Any, value: dt.datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return local_time(value, _zone(context), fmt)


@jinja2.pass_context
def _weekday(context: Any, value: dt.date | dt.datetime | str) -> str:
    names = (
        i18n.N_("Mon"),
        i18n.N_("Tue"),
        i18n.N_("Wed"),
        i18n.N_("Thu"),
        i18n.N_("Fri"),
        i18n.N_("Sat"),
        i18n.N_("Sun"),
    )
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(_zone(context)).date()
    return i18n.gettext(names[value.weekday()])


def booking_code(code: str) -> str:
    """A booking code grouped as residents see it on their slip (`07-0042-3`)."""
    return format_code(code) if code.isdigit() and len(code) >= 7 else code


def _build_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        # Every value is escaped: names typed by staff or residents may contain HTML.
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True, default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["local"] = _local
    env.filters["weekday"] = _weekday
    env.filters["code"] = booking_code
    return env


ENV = _build_env()


def request_locale(request: Request) -> str:
    """The staff member's language: their cookie, else Chinese."""
    wanted = request.cookies.get(LANG_COOKIE, "")
    return wanted if wanted in i18n.LOCALES else i18n.DEFAULT_LOCALE


def render_text(request: Request, template: str, context: Mapping[str, Any]) -> str:
    """Render `template` in the request's language."""
    locale = request_locale(request)
    with i18n.use_locale(locale):
        return ENV.get_template(template).render({**context, "locale": locale})


def render(
    request: Request, template: str, context: Mapping[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """An HTML response; pages are never cached because they show residents' bookings."""
    response = HTMLResponse(render_text(request, template, context), status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def tr(message: str, request: Request, **values: Any) -> str:
    """Translate `message` in the request's language, with `{name}` fields filled in."""
    with i18n.use_locale(request_locale(request)):
        text = i18n.gettext(message)
    return text.format(**values) if values else text
