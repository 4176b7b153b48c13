"""Translations shared by the kiosk, its spoken prompts and the township console.

Message ids are English; `zh_CN` is the default language and every user-facing string must have a `zh_CN`
translation (a test enforces it). Catalogs live in `assets/translations/<locale>/LC_MESSAGES/<domain>.po`, one domain
per area of the code (core, ui, accessibility, staff, sync, township, console) so each area owns its file; all domains
of a locale are merged at load time. `python -m cunzhan.i18n compile` writes the `.mo` files (`make` runs it); when a
`.mo` is missing or older than its `.po`, the `.po` is read directly.
"""

from __future__ import annotations

import gettext as _gettext
import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cunzhan.paths import assets_dir

DEFAULT_LOCALE = "zh_CN"
LOCALES = ("zh_CN", "en")

_lock = threading.Lock()
_catalogs: dict[str, _gettext.NullTranslations] = {}
_state = threading.local()
_default_locale = DEFAULT_LOCALE


def N_(message: str) -> str:
    """Mark a string for translation without translating it now."""
    return message


def translations_dir() -> Path:
    return assets_dir() / "translations"


def _load_po(path: Path) -> dict[str, str]:
    from babel.messages.pofile import read_po

    with path.open("rb") as fh:
        catalog = read_po(fh)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}


class _DictTranslations(_gettext.NullTranslations):
    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__()
        self._messages = messages

    def gettext(self, message: str) -> str:
        found = self._messages.get(message)
        if found:
            return found
        return super().gettext(message)


def _read_mo(data: bytes) -> dict[str, str] | None:
    """The messages of a compiled catalog (GNU .mo), or None when it holds plural or context entries (then
    `gettext.GNUTranslations` reads it). Kiosk start-up reads every catalog before home is shown, and this takes
    under half of GNUTranslations' time (~2.5 ms instead of ~6 ms for all domains)."""
    import struct

    (magic,) = struct.unpack_from("<I", data)
    order = "<" if magic == 0x950412DE else ">"
    _revision, count, originals_at, translations_at = struct.unpack_from(order + "4I", data, 4)
    originals = struct.unpack_from(f"{order}{2 * count}I", data, originals_at)
    translations = struct.unpack_from(f"{order}{2 * count}I", data, translations_at)
    messages: dict[str, str] = {}
    for length, start, t_length, t_start in zip(
        originals[0::2], originals[1::2], translations[0::2], translations[1::2], strict=True
    ):
        if not length:
            continue  # the header entry
        key = data[start : start + length]
        if b"\0" in key or b"\x04" in key:
            return None
        messages[key.decode()] = data[t_start : t_start + t_length].decode()
    return messages


def catalog(locale: str) -> _gettext.NullTranslations:
    """All domains of one locale merged; unknown locales fall back to the message ids."""
    with _lock:
        if locale in _catalogs:
            return _catalogs[locale]
        merged: _gettext.NullTranslations = _gettext.NullTranslations()
        folder = translations_dir() / locale / "LC_MESSAGES"
        chain: list[_gettext.NullTranslations] = []
        plain: dict[str, str] = {}  # every simple message of the compiled domains, the first domain's winning
        for po in sorted(folder.glob("*.po")):
            mo = po.with_suffix(".mo")
            if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
                data = mo.read_bytes()
                messages = _read_mo(data)
                if messages is None:
                    chain.append(_gettext.GNUTranslations(io.BytesIO(data)))
                else:
                    for key, value in messages.items():
                        plain.setdefault(key, value)
            else:
                chain.append(_DictTranslations(_load_po(po)))
        if plain:
            chain.insert(0, _DictTranslations(plain))
        if chain:
            merged = chain[0]
            for extra in chain[1:]:
                merged.add_fallback(extra)
        _catalogs[locale] = merged
        return merged


def set_default_locale(locale: str) -> None:
    """The kiosk's language (a setting); residents may switch for their own session with `use_locale`."""
    global _default_locale  # noqa: PLW0603 - one process-wide default, set at start-up
    _default_locale = locale if locale in LOCALES else DEFAULT_LOCALE


def current_locale() -> str:
    return getattr(_state, "locale", None) or _default_locale


def sentences(*parts: str) -> str:
    """Join sentences the way the language writes them: no space after a Chinese full stop, one in English."""
    sep = "" if current_locale().startswith("zh") else " "
    return sep.join(p.strip() for p in parts if p and p.strip())


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    """Translate in `locale` inside the block (this thread only); the web console uses it per request."""
    previous = getattr(_state, "locale", None)
    _state.locale = locale
    try:
        yield
    finally:
        _state.locale = previous


def gettext(message: str) -> str:
    """Translate `message` into the current locale."""
    return catalog(current_locale()).gettext(message)


_ = gettext


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalog(current_locale()).ngettext(singular, plural, n)


def compile_catalogs() -> list[Path]:
    """Compile every `.po` under assets/translations into a `.mo` beside it."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(translations_dir().glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as fh:
            cat = read_po(fh, locale=po.parent.parent.name)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as out:
            write_mo(out, cat)
        written.append(mo)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["compile"]:
        count = len(compile_catalogs())
        print(f"compiled {count} catalogs")
        return 0
    print("usage: python -m cunzhan.i18n compile", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
