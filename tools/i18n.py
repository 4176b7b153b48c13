"""Translation upkeep.

    python tools/i18n.py missing [PATH…]        list user-facing strings without a zh_CN translation
    python tools/i18n.py stub DOMAIN [PATH…]     append .po entries (empty msgstr) for them to zh_CN/DOMAIN.po

Strings are found with Babel's extractor (keywords _, gettext, N_, ngettext; Jinja2 templates too).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2), "tr": None}


def extract(paths: Iterable[Path]) -> dict[str, list[str]]:
    """msgid → places, for every marked string in the given files or folders."""
    from babel.messages.extract import extract_from_file

    found: dict[str, list[str]] = {}
    for base in paths:
        files = [base] if base.is_file() else sorted(list(base.rglob("*.py")) + list(base.rglob("*.html")))
        for f in files:
            if "migrations/versions" in str(f):
                continue
            method = "jinja2.ext:babel_extract" if f.suffix == ".html" else "python"
            options = {"extensions": "jinja2.ext.i18n"} if f.suffix == ".html" else {}
            for lineno, message, _comments, _context in extract_from_file(
                method, str(f), keywords=KEYWORDS, options=options
            ):
                msgids = message if isinstance(message, tuple) else (message,)
                for msgid in msgids:
                    if msgid:
                        found.setdefault(msgid, []).append(f"{f.relative_to(ROOT)}:{lineno}")
    return found


def missing(paths: Iterable[Path]) -> dict[str, list[str]]:
    from cunzhan.i18n import catalog

    zh = catalog("zh_CN")
    return {m: where for m, where in extract(paths).items() if zh.gettext(m) == m}


def _default_paths() -> list[Path]:
    return [ROOT / "kiosk", ROOT / "township"]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"missing", "stub"}:
        print(__doc__)
        return 2
    if argv[0] == "missing":
        paths = [Path(p).resolve() for p in argv[1:]] or _default_paths()
        gaps = missing(paths)
        for msgid, where in gaps.items():
            print(f"{where[0]}: {msgid!r}")
        return 1 if gaps else 0
    domain = argv[1]
    paths = [Path(p).resolve() for p in argv[2:]] or _default_paths()
    gaps = missing(paths)
    po = ROOT / "assets" / "translations" / "zh_CN" / "LC_MESSAGES" / f"{domain}.po"
    po.parent.mkdir(parents=True, exist_ok=True)
    new = not po.exists()
    with po.open("a", encoding="utf-8") as fh:
        if new:
            fh.write(
                'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: zh_CN\\n"\n\n'
            )
        for msgid, where in gaps.items():
            fh.write(f'#: {where[0]}\nmsgid "{_escape(msgid)}"\nmsgstr ""\n\n')
    print(f"appended {len(gaps)} entries to {po.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
