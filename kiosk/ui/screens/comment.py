"""「说一句意见」 (#18): the resident's comment with a rating, said aloud and recognised offline (Vosk, free speech:
`VoiceIn.dictate`), shown large and read back; one touch keeps it, one drops it. Optional, and offered only where
the voice model can recognise free speech (feedback, rate_invite).

The comment is personal: kept only in the visit (`Visit.comment`) until it is sent with the rating, never logged;
read back in clear only through private audio (`say_before_next`), otherwise the loudspeaker says it is on the
screen. At most `COMMENT_LIMIT` characters.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QVBoxLayout

from cunzhan.i18n import gettext as _
from kiosk.ui import widgets
from kiosk.ui.context import Visit
from kiosk.ui.screen import Choice, Screen

if TYPE_CHECKING:
    from kiosk.ui.window import KioskWindow

COMMENT_LIMIT = 200  # characters: a sentence or two (the wire allows 500)


def can_dictate(screen: Screen) -> bool:
    """Whether this kiosk's voice in can take a spoken comment."""
    voice = screen.ctx.voice
    return bool(voice.available and voice.dictation)


class CommentScreen(Screen):
    name = "comment"

    def __init__(self, window: KioskWindow) -> None:
        super().__init__(window)
        self.listening = False

    def title(self) -> str:
        return _("Say a comment")

    def announcement(self) -> str:
        if self.visit.comment_heard:
            return _("Keep it to send it with your answer, or say it again, or do not send it.")
        return _("If you like, touch Start speaking and say in a few words what was good or bad.")

    def build_body(self, box: QVBoxLayout) -> None:
        heard = self.visit.comment_heard
        if heard:
            box.addWidget(widgets.label(_("You said:"), name="comment_said"))
            shown = widgets.label(heard, kind="notice", name="comment_heard")  # the profile's large body text
            shown.setAccessibleName(_("You said: {comment}").format(comment=heard))
            box.addWidget(shown)
        elif self.listening:
            box.addWidget(
                widgets.label(
                    _("Listening. Speak now; touch I have finished when you are done."),
                    kind="notice",
                    name="comment_listening",
                )
            )

    def choices(self) -> list[Choice]:
        if self.visit.comment_heard:
            return [
                Choice("comment_keep", _("Keep it"), self._keep, phrases=("保留",)),
                Choice("comment_again", _("Say it again"), self._listen, kind="secondary"),
                Choice("comment_drop", _("Do not send it"), self._drop, kind="secondary"),
            ]
        if self.listening:
            return [Choice("comment_done", _("I have finished"), self._finished)]
        return [Choice("comment_start", _("Start speaking"), self._listen)]

    def _listen(self) -> None:
        """Listen for one utterance (the window stopped any speech at the touch, so the kiosk does not hear
        itself); the result comes back to `_heard` for this visit only."""
        self.visit.comment_heard = ""
        self.message = ""
        self.listening = True
        self.win.refresh()
        self.ctx.voice.dictate(partial(self._heard, self.visit))

    def _finished(self) -> None:
        """说完了: stop listening; what was said so far is recognised and comes to `_heard`."""
        self.ctx.voice.stop()

    def _heard(self, visit: Visit, text: str) -> None:
        from kiosk.accessibility.voice import tidy_dictation

        if self.ctx.visit is not visit or self.win.current is not self:
            return  # the resident walked away or went on: the words go nowhere
        self.listening = False
        comment = tidy_dictation(text, COMMENT_LIMIT)
        if not comment:
            self.show_message(
                _("Sorry, nothing was heard. Touch Start speaking to try again, or go back."), "notice"
            )
            return
        visit.comment_heard = comment
        self.message = ""
        self.win.say_before_next(
            _("You said: {comment}").format(comment=comment), _("What you said is shown on the screen.")
        )
        self.win.refresh(announce=True)

    def _keep(self) -> None:
        self.visit.comment = self.visit.comment_heard
        self.visit.comment_heard = ""
        self.win.back()
        shown = self.win.current
        if shown is not None:
            shown.show_message(_("Your comment will be sent with your answer."), "ok")

    def _drop(self) -> None:
        self.visit.comment_heard = ""
        self.win.back()

    def on_leave(self) -> None:
        if self.listening:
            self.listening = False
            self.ctx.voice.stop()

    def forget(self) -> None:
        self.on_leave()
        super().forget()
