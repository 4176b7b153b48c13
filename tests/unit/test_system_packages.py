"""Every command the code, tests, tools and make targets call comes from a Debian package that
`installers/debian-packages.txt` lists (or from Debian's required packages, which every Debian system has: a minimal one lacks even the important ones).

A fresh machine has only what that list installs: a command from a package installed here by hand would pass every
other test on this machine and fail on the next one. The commands are found in the sources themselves — literal
argument vectors of `subprocess` calls, `shutil.which(...)` look-ups, Playwright's `executable_path`, and the first
word of each command in the shell scripts and make recipes — and each is traced to its package with `dpkg -S`.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "installers" / "debian-packages.txt"
PYTHON_TREES = ("kiosk", "township", "tests", "tools", "bench", "installers")
SHELL_FILES = (
    "Makefile",
    "installers/Makefile",
    ".ci/run",
    *(f"tools/{p.name}" for p in (ROOT / "tools").glob("*.sh")),
)
SUBPROCESS_CALLS = {"run", "Popen", "check_output", "check_call", "call"}
# Shell words that are not commands on PATH: keywords, builtins, and `make`'s own.
SHELL_BUILTINS = {
    "if",
    "then",
    "else",
    "elif",
    "fi",
    "for",
    "while",
    "until",
    "do",
    "done",
    "case",
    "esac",
    "in",
    "function",
    "[",
    "[[",
    "]]",
    "test",
    "echo",
    "printf",
    "local",
    "export",
    "set",
    "unset",
    "trap",
    "eval",
    "exec",
    "cd",
    "exit",
    "return",
    "read",
    "mapfile",
    "shift",
    "command",
    "true",
    "false",
    "wait",
    "kill",
    "source",
    ".",
    ":",
    "{",
    "}",
    "!",
    "time",
    "type",
    "declare",
    "readonly",
    "let",
    "break",
    "continue",
}


def listed_packages() -> set[str]:
    names = set()
    for line in PACKAGES.read_text(encoding="utf-8").splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.add(name)
    return names


def _python_files() -> Iterator[Path]:
    for tree in PYTHON_TREES:
        yield from (p for p in (ROOT / tree).rglob("*.py") if "migrations/versions" not in str(p))


def _constant_strings(scope: ast.AST) -> dict[str, str]:
    """Names bound to a string constant in this scope (`launcher = "/usr/libexec/…"`)."""
    found = {}
    for node in ast.walk(scope):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def _first_word(arg: ast.expr, names: dict[str, str]) -> str | None:
    if isinstance(arg, ast.List | ast.Tuple) and arg.elts:
        arg = arg.elts[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.Name) and arg.id in names:
        return names[arg.id]
    return None


def python_commands(path: Path) -> set[str]:
    """Commands a Python file runs: literal argv heads of subprocess calls, shutil.which names, browser paths."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = _constant_strings(tree)
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        attr = func.attr if isinstance(func, ast.Attribute) else None
        owner = (
            func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
        )
        word = None
        if node.args and (
            (owner == "subprocess" and attr in SUBPROCESS_CALLS) or (owner, attr) == ("shutil", "which")
        ):
            word = _first_word(node.args[0], names)
        for keyword in node.keywords:
            if keyword.arg == "executable_path":
                word = _first_word(keyword.value, names)
        if word and not word.startswith(("-", "{")):
            found.add(word)
    return found


_SEGMENT_SPLIT = re.compile(r"\|\||&&|[;|`(]|\$\(|\bthen\b|\bdo\b|\belse\b|\bexec\b|\bif\b|\bwhile\b|!")


def shell_commands(path: Path) -> set[str]:
    """First words of the commands in a shell script or in a Makefile's recipes (a rough but strict reading:
    variables, paths inside the repository, shell keywords and the script's own functions are left out)."""
    makefile = path.name == "Makefile"
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))  # continuation lines
    functions = set(re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\)", text, flags=re.MULTILINE))
    # A command kept in a variable (`pg_run="runuser -u postgres --"`, then `$pg_run initdb`).
    stored = {
        name: value.split()[0] for name, value in re.findall(r"\b(\w+)=\"([^\"$]+)\"", text) if value.split()
    }
    lines = text.splitlines()
    lines += re.findall(r"\$\(([^()]*)\)", text)  # command substitutions, quoted ones included
    found = set()
    for raw in lines:
        if makefile and not raw.startswith("\t"):
            continue
        command = raw.strip().lstrip("@-") if makefile else raw  # make's silent and ignore-error prefixes
        line = re.sub(r"(^|\s)#.*$", "", command)  # comments
        line = re.sub(r"'[^']*'|\"(?:[^\"\\\\]|\\\\.)*\"", " X ", line)  # quoted words are arguments
        for segment in _SEGMENT_SPLIT.split(line):
            words = segment.split()
            while words and ("=" in words[0] and not words[0].startswith("=")):
                words.pop(0)  # VAR=value prefixes
            if words and words[0] == "--":
                words.pop(0)
            if not words:
                continue
            word = words[0]
            variable = re.fullmatch(r"\$\{?(\w+)\}?", word)
            if variable and variable.group(1) in stored:
                word = stored[variable.group(1)]
            if word in SHELL_BUILTINS or word in functions or word.startswith(("$", "-", "X", ")")):
                continue
            if "/" in word and not word.startswith("/"):
                continue  # a script of this repository (tools/…, debian/build_deb.py)
            if re.fullmatch(r"[A-Za-z0-9_.+/-]+", word):
                found.add(word)
    return found


def called_commands() -> dict[str, set[str]]:
    """command → files that call it."""
    calls: dict[str, set[str]] = {}
    for path in _python_files():
        for word in python_commands(path):
            calls.setdefault(word, set()).add(str(path.relative_to(ROOT)))
    for name in SHELL_FILES:
        for word in shell_commands(ROOT / name):
            calls.setdefault(word, set()).add(name)
    return calls


def _owner_package(command: str) -> str | None:
    """The Debian package that ships `command`, or None when no package does. A bare name is looked for where
    Debian installs commands first (a fresh machine has those, whatever else is earlier on this one's PATH)."""
    if command.startswith("/"):
        candidates = [command]
    else:
        candidates = [f"{d}/{command}" for d in ("/usr/bin", "/usr/sbin", "/bin", "/sbin")]
        located = shutil.which(command)
        if located:
            candidates += [located, os.path.realpath(located)]
    for path in candidates:
        if not os.path.exists(path):
            continue
        out = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            return out.stdout.split(":", 1)[0].split(",")[0].strip()
    return None


def installed_closure(roots: set[str]) -> set[str]:
    """`roots` and every package they pull in through Depends and Pre-Depends, as installed here (what apt
    installs on a fresh machine with --no-install-recommends; alternatives and virtual packages counted)."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package}\t${Provides}\t${Depends}, ${Pre-Depends}\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    depends: dict[str, set[str]] = {}
    providers: dict[str, set[str]] = {}
    for line in out.splitlines():
        name, provides, deps = line.split("\t")
        depends[name] = {
            re.split(r"[\s(:]", d.strip(), maxsplit=1)[0] for d in re.split(r"[,|]", deps) if d.strip()
        }
        for virtual in provides.split(","):
            if virtual.strip():
                providers.setdefault(re.split(r"[\s(]", virtual.strip(), maxsplit=1)[0], set()).add(name)
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        for real in {name} | providers.get(name, set()):
            if real not in seen:
                seen.add(real)
                todo.extend(depends.get(real, ()))
    return seen


def test_programs_shipped_in_python_wheels_find_their_libraries() -> None:
    # Playwright drives Chromium through a node binary of its own wheel: its shared libraries come from the list too.
    import playwright

    node = Path(playwright.__file__).parent / "driver" / "node"
    out = subprocess.run(["ldd", str(node)], capture_output=True, text=True, check=True).stdout
    assert "not found" not in out, out


def _priority(package: str) -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Priority}", package], capture_output=True, text=True, check=False
    )
    return out.stdout.strip()


def test_the_scanner_finds_commands_in_each_kind_of_file() -> None:
    # The scanner itself, on the places it must read: a subprocess argv, shutil.which, a name bound to a path,
    # a shell script's commands after `exec` and `--`, and a make recipe.
    calls = called_commands()
    assert "xset" in calls and "tests/integration/test_package.py" in calls["xset"]
    assert "fc-list" in calls and "kiosk/doctor.py" in calls["fc-list"]
    assert "/usr/libexec/at-spi-bus-launcher" in calls
    assert "/usr/bin/chromium" in calls
    assert {"dbus-run-session", "gnome-keyring-daemon", "runuser", "mktemp"} <= calls.keys()
    assert "touch" in calls and "Makefile" in calls["touch"]
    assert (
        not {"if", "then", "echo", "tools/with-services.sh", "X", "cleanup", "compress", "l"} & calls.keys()
    )


def test_every_called_command_comes_from_a_listed_package() -> None:
    listed = listed_packages()
    pulled_in = installed_closure(listed)
    problems = []
    for command, places in sorted(called_commands().items()):
        package = _owner_package(command)
        if package is None:
            problems.append(
                f"{command} (called in {', '.join(sorted(places))}) is not installed at all: add its "
                "package to installers/debian-packages.txt"
            )
        elif package not in pulled_in and _priority(package) != "required":
            problems.append(
                f"{command} (called in {', '.join(sorted(places))}) comes from {package}, which "
                "installers/debian-packages.txt neither lists nor pulls in"
            )
    assert not problems, "\n".join(problems)


def test_one_of_the_audio_players_comes_from_a_listed_package() -> None:
    # The speech player is the first of several that is installed: the list must guarantee one of them.
    from kiosk.accessibility.speech import _LINUX_PLAYERS

    listed = listed_packages()
    owners = {argv[0]: _owner_package(argv[0]) for argv in _LINUX_PLAYERS}
    assert any(owner in listed for owner in owners.values()), owners
