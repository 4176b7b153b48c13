"""Book, step 2 (only when the service has several): which doctor or teacher — or anyone, soonest first."""

from __future__ import annotations

from functools import partial

from cunzhan.i18n import gettext as _
from cunzhan.models import ServiceKind
from kiosk.ui.screen import Choice, Screen


class ProviderScreen(Screen):
    name = "provider"

    def _school(self) -> bool:
        return self.visit.kind is ServiceKind.SCHOOL

    def title(self) -> str:
        return _("Which teacher?") if self._school() else _("Which doctor?")

    def announcement(self) -> str:
        return _("If you do not mind, choose the first button: you get the earliest time.")

    def choices(self) -> list[Choice]:
        service_id = self.visit.service_id or ""
        anyone = Choice(
            "any",
            _("Any teacher") if self._school() else _("Any doctor"),
            partial(self._choose, None),
            detail=_("The earliest time"),
            phrases=("都可以", "随便"),
        )
        providers = self.ctx.store.providers_for_service(service_id, after=self.ctx.now())
        return [anyone] + [
            Choice(
                p.id,
                p.name,
                partial(self._choose, p.id),
                detail=" ".join(x for x in (p.title, p.organisation) if x),
            )
            for p in providers
        ]

    def _choose(self, provider_id: str | None) -> None:
        if self.visit.provider_id != provider_id:
            self.visit.day = None
            self.visit.session_id = None
        self.visit.provider_id = provider_id
        self.go("day")
