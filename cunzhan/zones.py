"""Time zones by IANA name, checked once for the console, the command line and the kiosk."""

from __future__ import annotations

import functools
import zoneinfo

# Names in the time zone database that are no place: tzdata's "Factory" (for unconfigured machines, "-00") and the
# system's own "localtime" / "posixrules" links. A kiosk or a township could not be in them.
_NOT_PLACES = frozenset({"Factory", "localtime", "posixrules"})


@functools.cache
def places() -> frozenset[str]:
    """The time zones of places: the database's Area/Location names (never a file looked up for whatever was
    typed), and UTC; not `_NOT_PLACES`, not "Etc/GMT+5" and its kind (fixed offsets whose sign is the reverse of
    what people read: UTC−5), not the old one-word aliases ("PRC", "Japan")."""
    names = zoneinfo.available_timezones() - _NOT_PLACES
    return frozenset(n for n in names if "/" in n and not n.startswith("Etc/")) | {"UTC"}


def is_zone(name: str) -> bool:
    """Whether `name` is a time zone of a place in the system's database ("Asia/Shanghai", "Asia/Urumqi"); never
    raises, whatever the text (a path, 10,000 characters, a folder like "Asia")."""
    return name in places()
