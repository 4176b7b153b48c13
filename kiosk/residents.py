"""Rules about a resident's records that both the resident's own screens and the staff desk apply.

`dependent_for` is the one rule for "which family member is this booking for". A resident at the kiosk is asked only
the relation and birth year (no typing of names); staff at the desk also type the name. Both must land on the SAME
record for the same grandchild: bookings are refused as duplicates per (resident, family member), so two records for
one child would let the child hold two seats in one session, and the resident would see the child twice."""

from __future__ import annotations

from dataclasses import replace

from cunzhan.models import Dependent, Resident
from kiosk.store import new_id


def unnamed(relation: str, birth_year: int) -> str:
    """The name a family member added at the kiosk gets (the resident is not asked one): `孙女（2017）`."""
    return f"{relation}（{birth_year}）"


def dependent_for(
    resident: Resident, relation: str, birth_year: int, name: str = ""
) -> tuple[Resident, Dependent]:
    """The resident's family member with this relation (already in the UI language) and birth year, added to the
    resident (in memory; saved with the booking) when new.

    Without a name (the kiosk), the first family member with that relation and year is the one. With a name (the
    staff desk), the one of that name; else one added at the kiosk without a name, which now gets this name; else a
    new one, so twins of the same year stay apart when staff name them."""
    same = [d for d in resident.dependents if d.relation == relation and d.birth_year == birth_year]
    name = name.strip()
    if not name:
        if same:
            return resident, same[0]
        name = unnamed(relation, birth_year)
    else:
        for dep in same:
            if dep.name == name:
                return resident, dep
        for dep in same:
            if dep.name == unnamed(relation, birth_year):
                named = replace(dep, name=name)
                dependents = tuple(named if d.id == dep.id else d for d in resident.dependents)
                return replace(resident, dependents=dependents), named
    dep = Dependent(new_id(), resident.id, name, relation, birth_year)
    return replace(resident, dependents=(*resident.dependents, dep)), dep
