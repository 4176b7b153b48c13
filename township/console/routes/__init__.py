"""The console's pages, one router per area; `mount_console` includes them all (their paths do not overlap)."""

from __future__ import annotations

from fastapi import APIRouter

from township.console.routes import (
    accounts,
    audit,
    catalogue,
    county,
    home,
    insight,
    kiosks,
    notices,
    phone,
    reports,
    residents,
    review,
    roster,
    schedule,
    signin,
    sms,
    townships,
)

ROUTERS: tuple[APIRouter, ...] = (
    signin.router,
    home.router,
    review.router,
    schedule.router,
    roster.router,
    catalogue.router,
    notices.router,
    kiosks.router,
    residents.router,
    audit.router,
    reports.router,
    sms.router,
    phone.router,
    accounts.router,
    townships.router,
    county.router,
    insight.router,
)
