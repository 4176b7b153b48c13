"""The core and the sync layer import with PySide6 blocked; nothing under kiosk/ imports township."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import kiosk

ROOT = Path(__file__).resolve().parents[2]


def _modules(package: str) -> list[str]:
    path = ROOT / package.replace(".", "/")
    return [package] + [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(path)]) if not m.ispkg]


def test_core_and_sync_import_without_qt() -> None:
    names = [m for m in _modules("kiosk") + _modules("kiosk.sync") if m not in {"kiosk.__main__"}]
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'PySide6' or name.startswith('PySide6.'):\n"
        "            raise ImportError('PySide6 is blocked in this test')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for name in {names!r}:\n"
        "    __import__(name)\n"
        "assert not any(m.startswith('PySide6') for m in sys.modules)\n"
        "print(len(" + repr(names) + "))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 10


def test_nothing_in_kiosk_imports_township() -> None:
    offenders = []
    for path in Path(kiosk.__file__).parent.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith(("import township", "from township")):
                offenders.append(str(path))
    assert offenders == []
