"""The booking slip: code, QR code of it, time, place, status and the kiosk's phone — shown on screen (for a phone
photo), saved as a PDF under the data directory and sent to the default printer when there is one.

No name or ID number is printed: a slip left behind tells a stranger nothing about the resident.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMarginsF, QRectF, QSizeF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter, QPixmap
from PySide6.QtWidgets import QLabel, QWidget

from cunzhan import paths
from cunzhan.codes import format_code
from cunzhan.i18n import gettext as _
from kiosk import settings as S
from kiosk.ui.screen import Choice, Screen
from kiosk.ui.screens.checkin import queue_words
from kiosk.ui.screens.confirm import session_words
from kiosk.ui.screens.done import status_words
from kiosk.ui.theme import FONT_FAMILY

if TYPE_CHECKING:
    from kiosk.ui.window import KioskWindow

SLIP_MM = (80.0, 150.0)  # a receipt-printer slip


@dataclass(frozen=True, slots=True)
class SlipFacts:
    """What a slip says (all text already in the resident's language)."""

    code: str
    service: str
    provider: str
    when: str
    where: str
    status: str
    bring: str
    phone: str
    kiosk: str
    queue: str = ""  # 「3 号」 once checked in: the number the waiting room calls, printed largest

    def lines(self) -> list[str]:
        result = [
            self.service,
            self.provider,
            self.when,
            _("Place: {where}").format(where=self.where),
            self.status,
        ]
        if self.bring:
            result.append(_("Bring: {bring}").format(bring=self.bring))
        if self.phone:
            result.append(_("Questions? Call {phone}").format(phone=self.phone))
        if self.kiosk:
            result.append(self.kiosk)
        return [line for line in result if line]


def slip_facts(screen: Screen) -> SlipFacts | None:
    booking = screen.visit.booking
    session = screen.ctx.store.session(booking.session_id) if booking else None
    if booking is None or session is None:
        return None
    w = session_words(screen, session)
    settings = screen.ctx.settings
    return SlipFacts(
        code=booking.code,
        service=w["service"],
        provider=w["provider"],
        when=w["when"],
        where=w["where"],
        status=status_words(booking),
        bring=w["bring"],
        phone=str(settings.get(S.KIOSK_PHONE)),
        kiosk=str(settings.get(S.KIOSK_NAME)),
        queue=queue_words(number)
        if (number := screen.ctx.store.queue_number(booking.id)) is not None
        else "",
    )


def qr_image(data: str, *, border: int = 2) -> QImage:
    """`data` as a QR code, one pixel per module (scale it up without smoothing): black on white."""
    import qrcode

    qr = qrcode.QRCode(border=border, box_size=1)
    qr.add_data(data)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    modules = QImage(len(matrix), len(matrix), QImage.Format.Format_RGB32)
    modules.fill(QColor("#FFFFFF"))
    black = QColor("#000000").rgb()
    for row, cells in enumerate(matrix):
        for col, dark in enumerate(cells):
            if dark:
                modules.setPixel(col, row, black)
    return modules


def paint_slip(
    painter: QPainter, width: float, height: float, facts: SlipFacts, *, text_px: float | None = None
) -> float:
    """Draw the slip in a `width` × `height` area (device units): title, code, QR, then the facts. On paper the sizes
    are millimetres of the 80 mm slip; on screen (`text_px`) the facts are in the profile's body size, wrapped at
    sensible points, and the QR code gives way to them."""

    from kiosk.ui.widgets import wrap_text

    unit = width / 80.0  # one millimetre of an 80 mm slip
    painter.fillRect(QRectF(0, 0, width, height), QColor("#FFFFFF"))
    painter.setPen(QColor("#000000"))
    font = QFont(FONT_FAMILY)

    def text(
        y: float, size_mm: float, words: str, *, bold: bool = False, lines: int = 1, px: float | None = None
    ) -> float:
        size = px or size_mm * unit
        font.setPixelSize(max(1, int(size)))
        font.setBold(bold)
        painter.setFont(font)
        words = wrap_text(words, int(size), int(width - 8 * unit), bold=bold)
        lines = max(lines, words.count("\n") + 1)
        box = QRectF(4 * unit, y, width - 8 * unit, size * 1.5 * lines)
        used = painter.boundingRect(box, int(Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap), words)
        painter.drawText(box, int(Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap), words)
        return y + used.height() + unit

    y = text(3 * unit, 4.5, _("Booking slip"), bold=True)
    if facts.queue:
        y = text(y, 16, facts.queue, bold=True)
    y = text(y, 9, format_code(facts.code), bold=True)
    modules = qr_image(facts.code)
    side = 30 * unit
    if text_px is not None:  # on screen the facts come first: the QR shrinks into what they leave
        needed = sum(
            text_px * 1.5 * (wrap_text(line, int(text_px), int(width - 8 * unit)).count("\n") + 1) + unit
            for line in facts.lines()
        )
        side = max(0.0, min(side, height - y - needed - 2 * unit))
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # sharp module edges
    painter.drawImage(QRectF((width - side) / 2, y, side, side), modules)
    painter.restore()
    y += side + 2 * unit
    for line in facts.lines():
        y = text(y, 3.6, line, lines=1 if text_px else 3, px=text_px)
    return y


PRINT_DPI = 200


def slip_image(
    facts: SlipFacts, height_px: int, *, width_px: int | None = None, text_px: float | None = None
) -> QImage:
    """The slip drawn as an image (on the main thread: text is laid out only there); for the screen, `width_px` and
    the profile's `text_px`."""
    width = width_px or int(height_px * SLIP_MM[0] / SLIP_MM[1])
    image = QImage(width, height_px, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    used = paint_slip(painter, width, height_px, facts, text_px=text_px)
    # On screen: the profile's size when it fits; else a little smaller each time (never below the paper size)
    tries, wanted = 0, text_px
    while text_px is not None and wanted is not None and used > height_px and tries < 6:
        tries += 1
        text_px = max(wanted * 0.7, text_px * 0.93)
        used = paint_slip(painter, width, height_px, facts, text_px=text_px)
    painter.end()
    return image


def _page(painter: QPainter, image: QImage, width: float, height: float) -> None:
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    painter.drawImage(QRectF(0, 0, width, height), image)


def write_pdf(image: QImage, code: str) -> Path:
    """Save the slip as a PDF under the data directory (slips/<code>.pdf) and return its path."""
    folder = paths.data_dir() / "slips"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{code}.pdf"
    writer = QPdfWriter(str(target))
    writer.setResolution(PRINT_DPI)
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QSizeF(*SLIP_MM), QPageSize.Unit.Millimeter),
            QPageLayout.Orientation.Portrait,
            QMarginsF(0, 0, 0, 0),
        )
    )
    painter = QPainter(writer)
    try:
        _page(painter, image, SLIP_MM[0] / 25.4 * PRINT_DPI, SLIP_MM[1] / 25.4 * PRINT_DPI)
    finally:
        painter.end()
    return target


def print_slip(image: QImage, code: str, printer_name: str = "") -> tuple[Path, bool]:
    """The PDF, and whether the slip also went to a printer: the one named (the `printer` setting) when this
    computer has it, else the default printer, when there is one.

    Runs in the background: it only places the finished image on the pages (no text layout off the main thread).
    """
    pdf = write_pdf(image, code)
    from PySide6.QtPrintSupport import QPrinter, QPrinterInfo

    info = QPrinterInfo.printerInfo(printer_name) if printer_name else QPrinterInfo()
    if info.isNull():
        info = QPrinterInfo.defaultPrinter()
    if info.isNull():
        return pdf, False
    printer = QPrinter(info, QPrinter.PrinterMode.HighResolution)
    printer.setPageSize(QPageSize(QSizeF(*SLIP_MM), QPageSize.Unit.Millimeter))
    painter = QPainter()
    if not painter.begin(printer):
        return pdf, False
    try:
        page = printer.pageRect(QPrinter.Unit.DevicePixel)
        _page(painter, image, page.width(), page.height())
    finally:
        painter.end()
    return pdf, True


class SlipScreen(Screen):
    name = "slip"

    def __init__(self, window: KioskWindow) -> None:
        super().__init__(window)
        self.picture: QPixmap | None = None

    def title(self) -> str:
        return _("Your booking slip")

    def announcement(self) -> str:
        return _("The slip is shown on the screen; you can take a photo of it with your phone.")

    def on_enter(self) -> None:
        self.picture = None
        facts = slip_facts(self)
        if facts is None:
            return
        height = max(
            300, self.win.stack.height() - 2 * self.theme.gap_px
        )  # the room the screen has, bars aside
        width = max(300, (self.content_width() - self.theme.gap_px * 2) // 2)
        self.picture = QPixmap.fromImage(
            slip_image(facts, height, width_px=width, text_px=self.theme.text_px)
        )
        QTimer.singleShot(0, partial(self._print, facts))  # once the slip is on the screen

    def forget(self) -> None:
        self.picture = None
        super().forget()

    def _print(self, facts: SlipFacts) -> None:
        page, code = slip_image(facts, int(SLIP_MM[1] / 25.4 * PRINT_DPI)), facts.code
        printer = str(self.ctx.settings.get(S.PRINTER) or "")
        self.ctx.ops.run(
            lambda: print_slip(page, code, printer), on_done=self._printed, on_error=self._not_printed
        )

    def _printed(self, result: tuple[Path, bool]) -> None:
        _path, on_paper = result
        if on_paper:
            self.show_message(_("The slip is printing. Please take it from the printer."), "ok")
        else:
            self.show_message(
                _("This kiosk has no printer. Please take a photo of the slip on the screen."), "notice"
            )

    def _not_printed(self, exc: BaseException) -> None:
        if not isinstance(exc, OSError | RuntimeError):
            raise exc
        self.show_message(_("The slip could not be printed. Please take a photo of it, or ask the staff."))

    def side_panel(self) -> QWidget | None:
        facts = slip_facts(self)
        if facts is None or self.picture is None:
            return None
        picture = QLabel()
        picture.setObjectName("slip_picture")
        picture.setPixmap(self.picture)
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        picture.setAccessibleName(
            " ".join([_("Booking slip"), facts.queue, format_code(facts.code), *facts.lines()]).replace(
                "  ", " "
            )
        )
        return picture

    def choices(self) -> list[Choice]:
        return [
            Choice(
                "finish",
                _("Finish"),
                self.win.end_visit,
                detail=_("Back to the start"),
                phrases=("完成", "好了"),
            )
        ]
