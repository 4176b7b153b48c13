"""The village staff call list (#16): today's and tomorrow's bookings of this kiosk, so that staff can phone or visit
the residents who get no text reminder — those with no number are marked 「无电话」 in words, not by colour.

Each line: day and time, the service as the slip prints it, the masked name (and for whom), the masked phone or
「无电话」, the booking code. Viewing and printing are audited (no personal data in the audit). 「打印名单」 writes an
A4 PDF under the data directory (lists/) and sends it to the kiosk's printer when there is one, as the slip does;
lists older than two days are deleted when the next is printed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPageLayout, QPageSize, QPaintDevice, QPainter, QPdfWriter
from PySide6.QtWidgets import QVBoxLayout

from cunzhan import paths
from cunzhan.codes import format_code
from cunzhan.i18n import gettext as _
from cunzhan.identity import mask_phone
from cunzhan.models import ACTIVE, BookingStatus
from kiosk import settings as S
from kiosk.staff.desk import StaffDesk, mask_name
from kiosk.ui import widgets
from kiosk.ui.screen import Choice
from kiosk.ui.staff.base import StaffScreen
from kiosk.ui.theme import FONT_FAMILY
from kiosk.ui.words import time_words

A4_MM = (210.0, 297.0)
PRINT_DPI = 150
LINES_PER_PAGE = 30
LISTED = ACTIVE | {BookingStatus.CHECKED_IN}


@dataclass(frozen=True, slots=True)
class CallLine:
    """One booking on the call list, personal details masked."""

    day: str  # 今天 / 明天
    time: str
    service: str
    who: str  # masked name, and for whom when for a family member
    phone: str  # masked, or "" (no number: staff phone or visit)
    code: str
    status: str

    def text(self) -> str:
        phone = self.phone or _("NO PHONE")
        return f"{self.day} {self.time}  {self.service}  {self.who}  {phone}  {self.code}  {self.status}"


def call_lines(desk: StaffDesk) -> list[CallLine]:
    """Today's and tomorrow's bookings (the kiosk's zone), by start time; audited as a view of bookings."""
    local = desk.clock().astimezone(desk.zone)
    start = dt.datetime(local.year, local.month, local.day, tzinfo=desk.zone)
    days = {start.date(): _("Today"), start.date() + dt.timedelta(days=1): _("Tomorrow")}
    store = desk.store
    lines = []
    for session in store.sessions_between(
        start.astimezone(dt.UTC), (start + dt.timedelta(days=2)).astimezone(dt.UTC)
    ):
        service = store.service(session.service_id)
        when = session.starts_at.astimezone(desk.zone)
        for booking in store.bookings_for_session(session.id):
            if booking.status not in LISTED:
                continue
            resident = store.resident(booking.resident_id)
            dependent = store.dependent(booking.dependent_id) if booking.dependent_id else None
            who = mask_name(resident.name) if resident else ""
            if dependent is not None:
                who = _("{name} for their {relation}").format(name=who, relation=dependent.relation)
            phone = resident.phone if resident else None
            lines.append(
                CallLine(
                    days.get(when.date(), ""),
                    time_words(when),
                    service.name if service else "",
                    who,
                    mask_phone(phone) if phone else "",
                    format_code(booking.code),
                    booking.status.label(),
                )
            )
    desk.record("call_list_viewed", f"{len(lines)} bookings")
    return lines


def paint_list(title: str, lines: list[CallLine]) -> list[QImage]:
    """The list as A4 pages (main thread: text layout), title and one booking a line."""
    width, height = (round(mm / 25.4 * PRINT_DPI) for mm in A4_MM)
    margin = round(12 / 25.4 * PRINT_DPI)
    row = (height - 2 * margin) // (LINES_PER_PAGE + 2)
    pages = []
    chunks = [lines[i : i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)] or [[]]
    for number, chunk in enumerate(chunks, start=1):
        image = QImage(width, height, QImage.Format.Format_RGB32)
        image.fill(QColor("#FFFFFF"))
        painter = QPainter(image)
        painter.setPen(QColor("#000000"))
        font = QFont(FONT_FAMILY)
        font.setPixelSize(round(row * 0.6))
        font.setBold(True)
        painter.setFont(font)
        heading = f"{title}  ({number}/{len(chunks)})"
        painter.drawText(QRectF(margin, margin, width - 2 * margin, row), Qt.AlignmentFlag.AlignLeft, heading)
        font.setBold(False)
        font.setPixelSize(round(row * 0.5))
        painter.setFont(font)
        for i, line in enumerate(chunk):
            y = margin + (i + 2) * row
            painter.drawText(
                QRectF(margin, y, width - 2 * margin, row), Qt.AlignmentFlag.AlignLeft, line.text()
            )
        if not chunk:
            painter.drawText(
                QRectF(margin, margin + 2 * row, width - 2 * margin, row),
                Qt.AlignmentFlag.AlignLeft,
                _("No bookings today or tomorrow."),
            )
        painter.end()
        pages.append(image)
    return pages


LISTS_KEPT_S = 2 * 24 * 3600  # a list printed earlier than this is deleted when the next one is printed


def print_list(pages: list[QImage], name: str, printer_name: str = "") -> tuple[Path, bool]:
    """The PDF (data directory, lists/<name>.pdf), and whether it also went to a printer: the one named (the
    `printer` setting) when this computer has it, else the default printer. Runs in the background. Lists older than
    two days are deleted first: they name residents (masked) and their appointments, and are of no use once the
    days they cover are past."""
    from PySide6.QtPrintSupport import QPrinter, QPrinterInfo

    folder = paths.data_dir() / "lists"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.pdf"):
        with contextlib.suppress(OSError):  # gone already, or not ours to delete: the new list is still made
            if time.time() - old.stat().st_mtime > LISTS_KEPT_S:
                old.unlink()
    target = folder / f"{name}.pdf"
    layout = QPageLayout(
        QPageSize(QSizeF(*A4_MM), QPageSize.Unit.Millimeter),
        QPageLayout.Orientation.Portrait,
        QMarginsF(0, 0, 0, 0),
    )
    writer = QPdfWriter(str(target))
    writer.setResolution(PRINT_DPI)
    writer.setPageLayout(layout)
    _paint_pages(writer, pages, writer.width(), writer.height(), writer.newPage)
    info = QPrinterInfo.printerInfo(printer_name) if printer_name else QPrinterInfo()
    if info.isNull():
        info = QPrinterInfo.defaultPrinter()
    if info.isNull():
        return target, False
    printer = QPrinter(info, QPrinter.PrinterMode.HighResolution)
    printer.setPageSize(QPageSize(QSizeF(*A4_MM), QPageSize.Unit.Millimeter))
    page = printer.pageRect(QPrinter.Unit.DevicePixel)
    return target, _paint_pages(printer, pages, page.width(), page.height(), printer.newPage)


def _paint_pages(
    device: QPaintDevice, pages: list[QImage], width: float, height: float, new_page: Callable[[], object]
) -> bool:
    painter = QPainter()
    if not painter.begin(device):
        return False
    try:
        for i, image in enumerate(pages):
            if i:
                new_page()
            painter.drawImage(QRectF(0, 0, width, height), image)
    finally:
        painter.end()
    return True


class StaffCallListScreen(StaffScreen):
    """Today's and tomorrow's bookings, those without a phone marked; printable."""

    name = "staff_calllist"
    columns = 1
    per_page = 4  # two lines each: four fit on the panel in every profile

    def __init__(self, window: object) -> None:
        super().__init__(window)  # type: ignore[arg-type]
        self.lines: list[CallLine] = []

    def title(self) -> str:
        return _("Call list: today and tomorrow")

    def announcement(self) -> str:
        return _("Residents marked NO PHONE get no text reminder: please phone their family or visit them.")

    def load(self) -> None:
        self.lines = call_lines(self.state.desk)

    def build_body(self, box: QVBoxLayout) -> None:
        without = sum(1 for line in self.lines if not line.phone)
        text = (
            _("{n} bookings, {without} without a phone.").format(n=len(self.lines), without=without)
            if self.lines
            else _("No bookings today or tomorrow.")
        )
        box.addWidget(widgets.label(text, name="calllist_summary"))

    def choices(self) -> list[Choice]:
        result = [Choice("print_list", _("Print the list"), self.print, kind="primary")]
        for line in self.lines:
            phone = line.phone or _("NO PHONE")
            result.append(
                Choice(
                    f"call_{line.code}",
                    f"{line.day} {line.time}  {line.who}  {phone}",
                    lambda: None,  # a line to read, not an action
                    detail=f"{line.service} · {line.code} · {line.status}",
                    kind="secondary" if line.phone else "primary",
                )
            )
        return result

    def print(self) -> None:
        pages = paint_list(self.title(), self.lines)
        printer = str(self.ctx.settings.get(S.PRINTER) or "")
        name = "calllist-" + self.ctx.today().isoformat()
        self.state.desk.record("call_list_printed", f"{len(self.lines)} bookings")
        self.ctx.ops.write(
            lambda: print_list(pages, name, printer), on_done=self._printed, on_error=self.fail
        )

    def _printed(self, result: tuple[Path, bool]) -> None:
        path, printed = result
        if printed:
            self.show_message(_("The list is printing."), "ok", speak=False)
        else:
            self.show_message(
                _("This kiosk has no printer. The list is saved as {file}.").format(file=path.name),
                "notice",
                speak=False,
            )
