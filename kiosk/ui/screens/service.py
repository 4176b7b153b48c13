"""Book, step 1: which service (the clinic's services, or the school's classes)."""

from __future__ import annotations

from functools import partial

from cunzhan.i18n import gettext as _
from cunzhan.models import ServiceKind
from kiosk.ui.screen import Choice, Screen


class ServiceScreen(Screen):
    name = "service"

    def title(self) -> str:
        if self.visit.kind is ServiceKind.SCHOOL:
            return _("Online class: which class?")
        return _("See a doctor online: which kind of doctor?")

    def announcement(self) -> str:
        return _("Touch what you need.")

    def choices(self) -> list[Choice]:
        services = self.ctx.store.services(self.visit.kind)
        return [Choice(s.id, s.name, partial(self._choose, s.id), detail=s.description) for s in services]

    def _choose(self, service_id: str) -> None:
        visit = self.visit
        if (
            visit.service_id != service_id
        ):  # another service: the provider, day and time chosen before no longer fit
            visit.provider_id = None
            visit.day = None
            visit.session_id = None
            visit.alternatives = ()
        visit.service_id = service_id
        providers = self.ctx.store.providers_for_service(service_id, after=self.ctx.now())
        self.go("provider" if len(providers) > 1 else "day")
