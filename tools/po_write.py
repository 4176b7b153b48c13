"""Write or update entries of a zh_CN catalog from a Python dict file: `python tools/po_write.py DOMAIN FILE.py`.

FILE.py defines `T = {"English msgid": "中文", ...}`. Existing entries are kept; new ones appended; changed ones
replaced. Handy for translating many strings at once without hand-editing .po syntax.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    domain, source = argv[0], argv[1]
    table: dict[str, str] = runpy.run_path(source)["T"]
    po = ROOT / "assets" / "translations" / "zh_CN" / "LC_MESSAGES" / f"{domain}.po"
    po.parent.mkdir(parents=True, exist_ok=True)
    if po.exists():
        with po.open("rb") as fh:
            cat = read_po(fh, locale="zh_CN")
    else:
        cat = Catalog(locale="zh_CN", project="cunzhan", domain=domain)
    for msgid, msgstr in table.items():
        existing = cat.get(msgid)
        if existing is not None and existing.string == msgstr:
            continue
        if existing is not None:
            existing.string = msgstr
            existing.flags.discard("fuzzy")
        else:
            cat.add(msgid, msgstr)
    with po.open("wb") as fh:
        write_po(fh, cat, width=0, omit_header=False, sort_output=False)
    print(f"{po.relative_to(ROOT)}: {len(cat)} entries")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
