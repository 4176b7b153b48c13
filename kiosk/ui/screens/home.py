"""Home: the four big choices, the connection state in plain words, 长辈模式 in the title bar."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout

from cunzhan.i18n import gettext as _
from cunzhan.i18n import sentences
from kiosk.sync.status import SyncStatus, read_status
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, Screen
from kiosk.ui.words import day_words, time_words


class HomeScreen(Screen):
    name = "home"
    show_back = False
    choice_growth = 2.5  # the first screen a villager sees: the four choices as big as the glass allows

    def title(self) -> str:
        return _("Hello! What would you like to do?")

    def announcement(self) -> str:
        # The township's notices are read out as well as shown: a resident who cannot see them still hears them.
        how = (
            _("Touch a big button, or say what you want.")
            if self.ctx.voice.available
            else _("Touch a big button.")
        )  # never invite speaking to a kiosk that cannot listen
        return sentences(how, *map(notice_text, self.notices()))

    def notices(self) -> list[dict[str, str]]:
        """The township's notices in force now (at most two: the four choices keep their room)."""
        return self.ctx.store.current_notices(self.ctx.now())

    def choices(self) -> list[Choice]:
        return [
            Choice(
                "clinic",
                _("Remote clinic"),
                lambda: self._book("clinic"),
                detail=_("See a doctor by video"),
                phrases=("远程问诊", "看病", "看医生"),
            ),
            Choice(
                "school",
                _("Remote school"),
                lambda: self._book("school"),
                detail=_("Classes by video"),
                phrases=("远程课堂", "上课"),
            ),
            Choice(
                "bookings",
                _("My bookings"),
                self._bookings,
                detail=_("Check, change or cancel"),
                phrases=("我的预约", "查预约"),
            ),
            Choice(
                "check_in",
                _("Check in"),
                lambda: self.go("check_in"),
                detail=_("I have come for my booking"),
                phrases=("签到",),
            ),
        ]

    def _book(self, kind_name: str) -> None:
        from cunzhan.models import ServiceKind  # on the first touch, not at start-up (kiosk.store says why)

        kind = ServiceKind(kind_name)
        visit = self.visit
        if visit.kind is not kind:  # a different journey: earlier choices no longer apply
            visit.service_id = visit.provider_id = visit.session_id = None
            visit.day = None
        visit.kind = kind
        visit.purpose = "book"
        visit.reschedule_of = None
        self.go("service")

    def _bookings(self) -> None:
        self.visit.purpose = "bookings"
        self.go("booking_list" if self.visit.resident is not None else "identify")

    def build_body(self, box: QVBoxLayout) -> None:
        box.addWidget(widgets.label(self.status_text(), kind="notice", name="sync_status"))
        for index, notice in enumerate(self.notices()):
            box.addWidget(widgets.label(notice_text(notice), kind="notice", name=f"township_notice_{index}"))

    def status_text(self) -> str:
        """The kiosk's link to the township, in plain words (never colour alone)."""
        status = read_status(self.ctx.store)
        link = self._link_text(status)
        if status.pending_ops:
            return sentences(
                link,
                _("{n} things done here will reach the township by themselves when the link is back.").format(
                    n=status.pending_ops
                ),
            )
        return link

    def _link_text(self, status: SyncStatus) -> str:
        if not status.enrolled:
            return _("Not connected to the township yet. Bookings are kept on this kiosk and sent later.")
        if status.last_success_at is not None:
            local = self.ctx.local(status.last_success_at)
            last = _("last updated {day} {time}").format(
                day=day_words(local.date(), self.ctx.today()), time=time_words(local)
            )
        else:
            last = _("not updated yet")
        if status.online:
            return _("Online, {last}.").format(last=last)
        return _("Offline, {last}. Bookings are kept on this kiosk and sent when the link is back.").format(
            last=last
        )


def notice_text(notice: dict[str, str]) -> str:
    """One township notice in plain words: 乡镇通知：title。body"""
    title, body = notice["title"].strip().rstrip("。.！!？?"), notice["body"].strip()
    if not body:
        return _("Township notice: {title}").format(title=title)
    return _("Township notice: {title}. {body}").format(title=title, body=body)
