"""Which way imports go (docs/architecture.md): read from the source with `ast`, so an import inside a function
counts as much as one at the top of a module; and the core imported for real with PySide6 blocked."""

from __future__ import annotations

import ast
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    """Every module a file imports, wherever the import statement sits (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _files(folder: str, *, recursive: bool = True) -> list[Path]:
    base = ROOT / folder
    return sorted(base.rglob("*.py") if recursive else base.glob("*.py"))


def _offenders(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in files:
        for name in sorted(_imports(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


KIOSK_CORE = (
    [p for p in _files("kiosk", recursive=False) if p.name != "__main__.py"]
    + _files("kiosk/sync")
    + _files("kiosk/staff")
)
KIOSK_STORE = _files("kiosk/store") if (ROOT / "kiosk/store").is_dir() else []

RULES = {
    "the shared package imports neither program nor Qt": (
        _files("cunzhan"),
        ("kiosk", "township", "PySide6"),
    ),
    "the backend never imports the kiosk or Qt": (_files("township"), ("kiosk", "PySide6")),
    "nothing in the kiosk imports the backend": (_files("kiosk"), ("township",)),
    "the kiosk core and sync layer never import Qt": (KIOSK_CORE + KIOSK_STORE, ("PySide6", "kiosk.ui")),
    "accessibility never imports the kiosk UI": (_files("kiosk/accessibility"), ("kiosk.ui",)),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_imports_go_one_way(rule: str) -> None:
    files, forbidden = RULES[rule]
    assert files, rule
    assert _offenders(files, forbidden) == []


def test_the_rule_sees_an_import_inside_a_function() -> None:
    sample = ROOT / "kiosk" / "_layering_probe.py"
    try:
        sample.write_text("def later() -> None:\n    from township import app  # noqa\n", encoding="utf-8")
        assert _offenders([sample], ("township",)) == [
            "kiosk/_layering_probe.py imports township",
            "kiosk/_layering_probe.py imports township.app",
        ]
    finally:
        sample.unlink()


def _modules(package: str) -> list[str]:
    path = ROOT / package.replace(".", "/")
    return [package] + [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(path)]) if not m.ispkg]


def test_core_and_sync_import_without_qt() -> None:
    names = [
        m for m in _modules("cunzhan") + _modules("kiosk") + _modules("kiosk.sync") if m != "kiosk.__main__"
    ]
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
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 10


_SQL = re.compile(
    r"^\s*(SELECT\b|INSERT\s+INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b)|\bFROM\s+\w+\s+WHERE\b", re.I
)


def _sql_outside_store(files: list[Path]) -> list[str]:
    """String constants that are SQL, and calls of the store's generic `query`, in kiosk files outside kiosk/store/."""
    bad = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.search(node.value):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} SQL {node.value[:40]!r}")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "query"
            ):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} calls .query()")
    return bad


def test_no_sql_in_the_kiosk_outside_its_store() -> None:
    """Every statement of the kiosk lives in kiosk/store/ (docs/architecture.md): the UI and rules ask the store."""
    outside = [p for p in _files("kiosk") if "store" not in p.relative_to(ROOT).parts]
    assert _sql_outside_store(outside) == []
    # The rule can fail: the store itself is full of statements.
    assert len(_sql_outside_store(KIOSK_STORE)) > 50
