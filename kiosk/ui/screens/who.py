"""Book, step 5: who the booking is for — the resident, or a family member such as a grandchild (relation and birth
year; their name is not needed to book)."""

from __future__ import annotations

import datetime as dt
from functools import partial

from PySide6.QtWidgets import QVBoxLayout, QWidget

from cunzhan.i18n import N_
from cunzhan.i18n import gettext as _
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, KeypadEntry, Screen, typed

RELATIONS = (
    N_("Grandson"),
    N_("Granddaughter"),
    N_("Son"),
    N_("Daughter"),
    N_("Husband or wife"),
    N_("Other family member"),
)


class WhoScreen(Screen):
    name = "who"

    def title(self) -> str:
        return _("Who is this booking for?")

    def announcement(self) -> str:
        return _("Is it for you, or for someone in your family?")

    def choices(self) -> list[Choice]:
        return [
            Choice("self", _("For me"), partial(self._choose, False), phrases=("自己", "我自己", "本人")),
            Choice(
                "family",
                _("For a family member"),
                partial(self._choose, True),
                detail=_("For example a grandchild"),
                phrases=("家人", "孙子", "孙女", "孩子"),
            ),
        ]

    def _choose(self, for_dependent: bool) -> None:
        self.visit.for_dependent = for_dependent
        self.visit.purpose = "book"
        self.go("relation" if for_dependent else "identify")


class RelationScreen(Screen):
    name = "relation"

    def title(self) -> str:
        return _("Who is it for?")

    def announcement(self) -> str:
        return _("Touch how this person is related to you.")

    def choices(self) -> list[Choice]:
        return [
            Choice(f"relation_{i}", _(text), partial(self._choose, text)) for i, text in enumerate(RELATIONS)
        ]

    def _choose(self, relation: str) -> None:
        self.visit.relation = relation
        self.go("birth_year")


class BirthYearScreen(KeypadEntry):
    name = "birth_year"

    def title(self) -> str:
        return _("Which year was {relation} born?").format(relation=_(self.visit.relation or RELATIONS[-1]))

    def announcement(self) -> str:
        return _("Type the year of birth with the number keys, for example 2016, then touch Next.")

    def side_panel(self) -> QWidget:
        return self.kept_keypad(on_key=self.key, with_x=False)

    def build_body(self, box: QVBoxLayout) -> None:
        shown = self.visit.birth_year or _("(nothing entered)")
        box.addWidget(widgets.label(shown, kind="code", name="birth_year_display"))

    def choices(self) -> list[Choice]:
        return [Choice("next", _("Next"), self.submit)]

    def entry(self) -> str:
        return self.visit.birth_year

    def key(self, key: str) -> None:
        before = self.visit.birth_year
        self.visit.birth_year = typed(before, key, 4)
        self.message = ""
        self.win.refresh()
        self.typed_feedback(before, self.visit.birth_year)

    def submit(self) -> None:
        if not birth_year_ok(self.visit.birth_year, self.ctx.today()):
            self.show_message(
                _("Please type the year with four digits, between 1900 and {year}.").format(
                    year=self.ctx.today().year
                )
            )
            return
        self.go("identify")


def birth_year_ok(text: str, today: dt.date) -> bool:
    """A four-digit year that a living person could be born in."""
    return len(text) == 4 and text.isdigit() and 1900 <= int(text) <= today.year
