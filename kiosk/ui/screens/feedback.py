"""Feedback after an attended session: five big faces (with words, never faces alone), tapped reasons, and an
optional spoken comment (screens/comment, where the voice model can recognise free speech)."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGridLayout, QVBoxLayout, QWidget

from cunzhan.i18n import N_
from cunzhan.i18n import gettext as _
from cunzhan.models import FEEDBACK_REASONS
from kiosk.booking import BookingRefused
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, Screen
from kiosk.ui.screens.confirm import SAVE_FAILED

RATINGS = (N_("Very bad"), N_("Bad"), N_("All right"), N_("Good"), N_("Very good"))
REASONS = FEEDBACK_REASONS


def face_icon(rating: int, size: int, colour: str) -> QIcon:
    """A face drawn for `rating` (1 sad … 5 happy) in `colour`: a circle, two eyes, a mouth that curves."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(QColor(colour), max(2, size // 16))
    painter.setPen(pen)
    margin = size * 0.08
    painter.drawEllipse(QRectF(margin, margin, size - 2 * margin, size - 2 * margin))
    painter.setBrush(QColor(colour))
    for x in (0.36, 0.64):
        painter.drawEllipse(QPointF(size * x, size * 0.4), size * 0.05, size * 0.05)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    curve = (rating - 3) * 0.09  # −0.18 (frown) … +0.18 (smile)
    mouth = QRectF(size * 0.3, size * (0.62 - abs(curve)), size * 0.4, size * 2 * abs(curve) or 1)
    if curve > 0:
        painter.drawArc(mouth, 180 * 16, 180 * 16)
    elif curve < 0:
        painter.drawArc(mouth.translated(0, size * abs(curve)), 0, 180 * 16)
    else:
        painter.drawLine(QPointF(size * 0.32, size * 0.66), QPointF(size * 0.68, size * 0.66))
    painter.end()
    return QIcon(pixmap)


class FeedbackScreen(Screen):
    name = "feedback"

    def title(self) -> str:
        return _("How was it?")

    def announcement(self) -> str:
        if self.visit.rating:
            return _("Thank you. If you like, touch what was good or bad, then touch Send.")
        if len(self.faces()) < len(RATINGS):
            return _("Touch a face: bad on the left, good on the right.")
        return _("Touch a face, or press 1 to 5: 1 very bad, 2 bad, 3 all right, 4 good, 5 very good.")

    def faces(self) -> tuple[int, ...]:
        """The ratings offered as faces: all five, or three (bad, all right, good) where the profile allows at most
        four choices and the resident touches (长辈模式); the keypad profiles keep 1 to 5 by number."""
        if self.profile.max_choices < len(RATINGS) and not self.profile.keypad_driven:
            return (1, 3, 5)
        return (1, 2, 3, 4, 5)

    def on_digit(self, key: str) -> bool:
        """1 to 5 rate while no face is chosen (afterwards the number keys choose, as on every screen)."""
        if not self.visit.rating and key in "12345":
            self._rate(int(key))
            return True
        return False

    def focus_target(self) -> QWidget | None:
        """No face has the focus on arrival: an Enter pressed to get here never records a rating."""
        if not self.visit.rating:
            return None
        return super().focus_target()

    def build_body(self, box: QVBoxLayout) -> None:
        theme = self.theme
        faces = QWidget()
        row = QGridLayout(faces)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(theme.gap_px)
        side = max(theme.target_px, theme.px(18))
        self.show_comment(box)
        if self.visit.rating and len(self.faces()) < len(RATINGS):  # rated: the faces give way to the reasons
            box.addWidget(
                widgets.label(
                    _("Your answer: {words}").format(words=_(RATINGS[self.visit.rating - 1])),
                    kind="ok",
                    name="rating_given",
                )
            )
            return
        for column, value in enumerate(self.faces()):
            chosen = self.visit.rating == value
            face = widgets.button(
                _(RATINGS[value - 1]),
                name=f"face_{value}",
                kind="primary" if chosen else "secondary",
                on_click=partial(self._rate, value),
            )
            fg = theme.palette.primary_text if chosen else theme.palette.secondary_text
            face.setIcon(face_icon(value, side, fg))
            face.setIconSize(QSize(side, side))
            face.setMinimumHeight(side + theme.lines_px(1))
            face.setAccessibleName(
                _("{n} of 5: {words}").format(n=value, words=_(RATINGS[value - 1]))
                + (_(" (chosen)") if chosen else "")
            )
            row.addWidget(face, 0, column)
        box.addWidget(faces)

    def show_comment(self, box: QVBoxLayout) -> None:
        """The comment kept to send (shown, never spoken: it is the resident's own words)."""
        if self.visit.comment:
            box.addWidget(
                widgets.label(
                    _("Your comment: {comment}").format(comment=self.visit.comment), name="comment_kept"
                )
            )

    def comment_choice(self) -> list[Choice]:
        """「说一句意见」 where the voice model recognises free speech (or 「重说意见」 once one is kept)."""
        from kiosk.ui.screens.comment import can_dictate

        if not can_dictate(self):
            return []
        label = _("Say the comment again") if self.visit.comment else _("Say a comment")
        return [Choice("say_comment", label, partial(self.go, "comment"), kind="secondary")]

    def choices(self) -> list[Choice]:
        if not self.visit.rating:
            return []
        result = [Choice("send", _("Send"), self.send, phrases=("发送", "好了"))]
        if len(self.faces()) < len(RATINGS):
            result.append(
                Choice("rate_again", _("Change my answer"), partial(self._rate, 0), kind="secondary")
            )
        result += self.comment_choice()
        for index, reason in enumerate(REASONS):
            picked = reason in self.visit.reasons
            label = f"✓ {_(reason)}" if picked else _(reason)
            result.append(
                Choice(
                    f"reason_{index}",
                    label,
                    partial(self._toggle, reason),
                    kind="primary" if picked else "secondary",
                )
            )
        return result

    def _rate(self, value: int) -> None:
        self.visit.rating = value
        self.win.refresh(announce=True)

    def _toggle(self, reason: str) -> None:
        if reason in self.visit.reasons:
            self.visit.reasons.remove(reason)
        else:
            self.visit.reasons.append(reason)
        self.win.refresh()

    def send(self) -> None:
        booking = self.visit.booking
        if booking is None or not self.visit.rating:
            return
        bookings, rating, reasons = self.ctx.bookings, self.visit.rating, tuple(self.visit.reasons)
        comment = self.visit.comment or None
        self.ctx.ops.write(
            lambda: bookings.rate(booking.id, rating, reasons=reasons, comment=comment),
            on_done=self._sent,
            on_error=self._failed,
        )

    def _sent(self, _feedback: object) -> None:
        self.visit.rating = 0
        self.visit.reasons = []
        self.visit.comment = ""
        listing = self.win.back_to("booking_list", announce=False)
        listing.show_message(_("Thank you for telling us."), "ok")

    def _failed(self, exc: BaseException) -> None:
        self.show_message(exc.message() if isinstance(exc, BookingRefused) else _(SAVE_FAILED))
