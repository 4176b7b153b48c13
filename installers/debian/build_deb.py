"""Build Cunzhan's Debian packages with dpkg-deb, from this source tree.

    python installers/debian/build_deb.py kiosk    --top . --out dist --work build/deb
    python installers/debian/build_deb.py township --top . --out dist --work build/deb

Each package carries its own Python: a relocatable copy of the CPython the project is tested with (see runtime.py),
under /opt/cunzhan/python (or /opt/cunzhan-township/python), with the application and every third-party wheel in
that copy's site-packages. The package depends on system libraries and services only, never on the system's
python3, so one .deb installs on Debian 12 and 13 (and other Debian-based systems with a new enough glibc: the
Depends carries the floor, measured from the binaries). The wheels come from the Python package index when the
package is BUILT, never when it is installed.

Speed: the runtime and the third-party dependencies are made once into a cached environment keyed by pyproject.toml
and the interpreter (plus pip's own wheel cache); each build hard-links that environment and installs only this
project into it, so a rebuild after a code change takes seconds plus compression.

The build rewrites what names the build machine's paths (the runtime's sysconfig data) to the installed path,
compiles the byte code with the installed path as its file names, and then checks that no text file in the package
still names the build directory or the interpreter it was copied from.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from runtime import SYSTEM_LIBS, build_runtime, elf_files, glibc_floor, interpreter_info, run

HERE = Path(__file__).resolve().parent
# Bump when the way the cached dependency environment is made changes, so stale caches are not reused.
CACHE_FORMAT = "6"


@dataclass(frozen=True)
class Spec:
    """One binary package: its name, where its files go, which extra it installs, its recipe folder."""

    name: str
    prefix: str
    extra: str
    recipe: Path
    summary: str
    description: str
    # The project's top-level packages it ships: cunzhan (shared) and its own side, never the other's.
    packages: tuple[str, ...]
    # Paths (globs, relative to site-packages) of dependencies the application never loads, left out of the package.
    prune: tuple[str, ...] = ()


# What the kiosk never loads from PySide6-Essentials: the kiosk is a Qt Widgets program (QtCore, QtGui, QtWidgets,
# QtPrintSupport; QtSvg, QtNetwork, QtDBus, QtOpenGL, QtXml and QtConcurrent stay for what may come), so the Qt Quick
# and QML stack, Designer, Help, Wayland, EGLFS, SQL, Qt Test, the developer tools (designer, qmlls, lupdate, ...),
# type stubs, headers and build metadata go. The build then checks with ldd that every library left still finds
# everything it links against. About 110 MB of the 250 MB PySide6 unpacks to.
_QT_UNUSED_MODULES = ("Designer", "Help", "LabsStyleKit", "Qml", "QmlFeatures", "Quick", "QuickControls2",
                      "QuickTest", "QuickWidgets", "Sql", "UiTools", "Test")
PYSIDE6_UNUSED: tuple[str, ...] = (
    *[f"PySide6/Qt{m}.abi3.so" for m in _QT_UNUSED_MODULES],
    *[f"PySide6/Qt{m}.pyi" for m in _QT_UNUSED_MODULES],
    "PySide6/libpyside6qml.abi3.so.*",
    "PySide6/*.pyi", "PySide6/assistant", "PySide6/designer", "PySide6/linguist", "PySide6/lrelease",
    "PySide6/lupdate", "PySide6/qmlformat", "PySide6/qmllint", "PySide6/qmlls", "PySide6/svgtoqml",
    "PySide6/include", "PySide6/typesystems", "PySide6/glue", "PySide6/scripts", "PySide6/doc",
    "PySide6/Qt/qml", "PySide6/Qt/metatypes", "PySide6/Qt/libexec",
    *[f"PySide6/Qt/lib/libQt6{m}*.so.6" for m in ("Designer", "Help", "Labs", "Lottie", "Qml", "Quick", "Sql",
                                                   "Test", "UiTools", "Wayland", "WlShell", "EglFs", "EglFS")],
    *[f"PySide6/Qt/plugins/{d}" for d in ("qmltooling", "wayland-decoration-client",
                                         "wayland-graphics-integration-client",
                                         "wayland-graphics-integration-server", "wayland-shell-integration",
                                         "sqldrivers", "designer", "egldeviceintegrations", "vectorimageformats")],
    "PySide6/Qt/plugins/platforms/libqeglfs.so", "PySide6/Qt/plugins/platforms/libqwayland*.so",
    # Qt Virtual Keyboard is written in QML; the kiosk draws its own keypads with widgets
    "PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so", "PySide6/Qt/lib/libQt6VirtualKeyboard*",
    # Qt's own catalogs: only Qt base's (its dialogs and buttons) are shown by a Widgets program
    "PySide6/Qt/translations/[!q]*", "PySide6/Qt/translations/q[!t]*", "PySide6/Qt/translations/qt[!_b]*",
    "PySide6/Qt/translations/qt_help*",
)

SPECS: dict[str, Spec] = {
    "kiosk": Spec(
        name="cunzhan-kiosk",
        prefix="/opt/cunzhan",
        extra="kiosk",
        recipe=HERE / "kiosk",
        packages=("cunzhan", "kiosk"),
        summary="accessible offline-first village service kiosk (村站)",
        description=(
            "Cunzhan is a touchscreen service kiosk for village service centres: residents book remote clinic\n"
            "and school sessions, in standard, elder or disability modes, with Mandarin speech and offline voice\n"
            "commands. This package installs the kiosk with its own Python runtime under /opt/cunzhan,\n"
            "a dedicated 'cunzhan' user whose automatic login on tty1 starts the kiosk full-screen at boot\n"
            "(restarting it if it exits, with screen blanking off), and cunzhan-install-voice-model to put\n"
            "the Chinese Vosk model in place from a local file."
        ),
        prune=PYSIDE6_UNUSED,
    ),
    "township": Spec(
        name="cunzhan-township",
        prefix="/opt/cunzhan-township",
        extra="township",
        recipe=HERE / "township",
        packages=("cunzhan", "township"),
        summary="township backend for Cunzhan village kiosks",
        description=(
            "The township service-hall backend that Cunzhan kiosks sync with, and its web console for township\n"
            "staff. Runs as the systemd service cunzhan-township (user cunzhan-township) on port 8700 with a\n"
            "SQLite database in /var/lib/cunzhan-township; a PostgreSQL URL can be set in\n"
            "/etc/default/cunzhan-township."
        ),
    ),
}

# What this project's source tree contributes to a wheel besides the spec's packages; copied to a clean folder so
# stale build/ output or editable-install leftovers in the working tree never end up in a package.
SOURCE_ITEMS = ("pyproject.toml", "README.md")


def project_version(top: Path) -> str:
    with (top / "pyproject.toml").open("rb") as fh:
        return str(tomllib.load(fh)["project"]["version"])


def copy_source(top: Path, dest: Path, packages: tuple[str, ...]) -> Path:
    """A clean copy of what the wheel is built from (no __pycache__, no build/, no egg-info): only `packages`, and
    only the console scripts whose module is among them (the township package has no cunzhan-kiosk command)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for item in (*SOURCE_ITEMS, *packages):
        src = top / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / item)
    pyproject = dest / "pyproject.toml"
    scripts = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"].get("scripts", {})
    dropped = {name for name, target in scripts.items() if target.split(".", 1)[0] not in packages}
    kept = [
        line
        for line in pyproject.read_text(encoding="utf-8").splitlines(keepends=True)
        if not any(re.match(rf"{re.escape(name)}\s*=", line) for name in dropped)
    ]
    pyproject.write_text("".join(kept), encoding="utf-8")
    return dest


def dependency_env(spec: Spec, top: Path, work: Path, python: str) -> Path:
    """The cached runtime holding every third-party dependency of `.[extra]` (not this project itself)."""
    rt = build_runtime(python, work / "cache")
    key = hashlib.sha256(
        (top / "pyproject.toml").read_bytes() + f"{spec.extra}|{spec.prefix}|{rt.name}|{CACHE_FORMAT}".encode()
    ).hexdigest()[:16]
    env = work / "cache" / f"{spec.name}-{key}"
    if (env / ".complete").exists():
        return env
    if env.exists():
        shutil.rmtree(env)
    print(f"build_deb: building the dependency environment for {spec.name} (cached after this)", flush=True)
    run(["cp", "-a", str(rt), str(env)])
    (env / ".complete").unlink()
    src = copy_source(top, work / f"src-{spec.name}-deps", spec.packages)
    pip(env, "install", "--quiet", "--no-compile", f"{src}[{spec.extra}]")
    pip(env, "uninstall", "--quiet", "--yes", "cunzhan")
    prune(site_packages(env), spec.prune)
    # Byte code for the runtime and the dependencies once, named by the installed path; cp -a keeps the mtimes.
    # (`local/`: where Debian's python3 installs, linked from lib/python3.X/site-packages; see runtime.py)
    compile_bytecode([p for p in (env / "lib", env / "local") if p.exists()], env, f"{spec.prefix}/python",
                     interpreter(env))
    (env / ".complete").write_text(key + "\n")
    return env


def wheel_tools(work: Path) -> Path:
    """A cached venv with this project's build requirements, which builds its wheel (offline after the first time)."""
    tools = work / "cache" / f"wheel-tools-{CACHE_FORMAT}"
    python = tools / "bin" / "python"
    if not (tools / ".complete").exists():
        if tools.exists():
            shutil.rmtree(tools)
        run([sys.executable, "-m", "venv", str(tools)])
        run([str(python), "-m", "pip", "install", "--quiet", "setuptools>=77", "wheel"])
        (tools / ".complete").touch()
    return python


def prune(site: Path, patterns: tuple[str, ...]) -> None:
    """Delete what the application never loads, then check that no library left needs a deleted one."""
    if not patterns:
        return
    removed: set[str] = set()
    for pattern in patterns:
        for path in site.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                removed |= {p.name for p in path.rglob("*")}
                shutil.rmtree(path)
            else:
                removed.add(path.name)
                path.unlink()
    if not removed:
        raise SystemExit("build_deb: nothing matched the prune list: the wheel's layout changed, review the list")
    broken = []
    for elf in elf_files(site):
        out = subprocess.run(["ldd", str(elf)], capture_output=True, text=True, check=False).stdout
        for soname in re.findall(r"^\s*(\S+) => not found", out, re.M):
            if soname in removed:
                broken.append(f"{elf.relative_to(site)} needs {soname}")
    if broken:
        raise SystemExit("build_deb: pruning removed libraries still in use:\n" + "\n".join(broken[:20]))


def interpreter(env: Path) -> Path:
    return env / "bin" / "python3"


def pip(env: Path, *args: str) -> None:
    """The build's own pip (this venv's), installing into the runtime `env` (which carries no pip of its own)."""
    run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(interpreter(env)), *args])


def site_packages(env: Path) -> Path:
    found = sorted(env.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise SystemExit(f"build_deb: expected one site-packages in {env}, found {found}")
    return found[0]


def compile_bytecode(paths: list[Path], strip: Path, prefix: str, python: Path) -> None:
    """Byte-compile with the installed path as file name, so tracebacks and pyc checks name /opt/..."""
    if paths:
        # -x: templates that are not Python (PySide6 deployment recipes) would fail the build.
        run([str(python), "-m", "compileall", "-q", "-j", "0", "-x", r"\.tmpl\.py$", "-s", str(strip), "-p", prefix,
             *[str(p) for p in paths]])


def relocate_text(env: Path, old_roots: list[Path], new_root: str) -> None:
    """Point the text files that name where the runtime was built or copied from (its sysconfig data) at the
    installed path, and drop the console scripts pip wrote (everything is run as `python -m ...`)."""
    for bin_dir in (env / "bin", env / "local" / "bin"):
        for path in bin_dir.iterdir() if bin_dir.is_dir() else ():
            if path.is_dir() and not path.is_symlink():  # byte code of a script (XlsxWriter's vba_extract.py)
                shutil.rmtree(path)
            elif not path.name.startswith("python"):
                path.unlink()
    needles = [str(old).encode() for old in old_roots]
    for path in env.rglob("*"):
        if not path.is_file() or path.is_symlink() or path.suffix in {".so", ".pyc"} or ".so." in path.name:
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096] or not any(n in data for n in needles):
            continue
        for needle in needles:
            data = data.replace(needle, new_root.encode())
        # A new file, never a write into the old one: it is a hard link into the cached environment.
        mode = path.stat().st_mode
        tmp = path.with_name(path.name + ".relocating")
        tmp.write_bytes(data)
        tmp.chmod(mode)
        tmp.replace(path)


def check_no_build_paths(root: Path, build_paths: list[Path]) -> None:
    """Fail if any text file in the package still names the build directory."""
    needles = [str(p).encode() for p in build_paths]
    bad: list[str] = []
    for path in root.rglob("*"):
        if not path.is_file() or path.is_symlink() or path.suffix in {".so", ".pyc"} or ".so." in path.name:
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue
        if any(n in data for n in needles):
            bad.append(str(path.relative_to(root)))
    if bad:
        raise SystemExit("build_deb: build paths left in: " + ", ".join(sorted(bad)[:20]))


def read_list(path: Path) -> list[str]:
    """One entry a line; '#' starts a comment."""
    if not path.exists():
        return []
    items = []
    for line in path.read_text().splitlines():
        item = line.split("#", 1)[0].strip()
        if item:
            items.append(item)
    return items


def substitute(text: str, values: dict[str, str]) -> str:
    def repl(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise SystemExit(f"build_deb: unknown placeholder @{key}@")
        return values[key]

    return re.sub(r"@([A-Z_]+)@", repl, text)


def installed_size_kib(root: Path) -> int:
    total = 0
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        total += (path.stat().st_size + 1023) // 1024
    return total


class Steps:
    """Prints how long each build step took (build speed matters: the package tests build in `make test`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.last = time.monotonic()

    def done(self, step: str) -> None:
        now = time.monotonic()
        print(f"build_deb: {self.name}: {step} {now - self.last:.1f} s", file=sys.stderr, flush=True)
        self.last = now


def stage_python(spec: Spec, top: Path, work: Path, deps: Path, prefix_dir: Path) -> Path:
    """The package's Python: the cached runtime with the dependencies, plus this project (relocated later)."""
    env = prefix_dir / "python"
    # Hard links, not copies: the cached environment is ~400 MB and nothing below rewrites a file in place (text is
    # replaced by new files), so the cache stays intact. cp -a keeps the symlinks, modes and mtimes.
    run(["cp", "-al", str(deps), str(env)])
    (env / ".complete").unlink()  # only the link in the stage goes
    src = copy_source(top, work / f"src-{spec.name}", spec.packages)
    # The project's wheel is built by the build's own Python (it has setuptools), so the package carries no build
    # tools; then installed into the runtime without its dependencies (they are in the cache already).
    wheels = work / f"wheel-{spec.name}"
    if wheels.exists():
        shutil.rmtree(wheels)
    run([str(wheel_tools(work)), "-m", "pip", "--disable-pip-version-check", "wheel", "--quiet", "--no-deps",
         "--no-build-isolation", "--wheel-dir", str(wheels), str(src)])
    pip(env, "install", "--quiet", "--no-deps", "--no-compile", *[str(w) for w in sorted(wheels.glob("*.whl"))])
    site = site_packages(env)
    for direct_url in site.glob("cunzhan-*.dist-info/direct_url.json"):
        direct_url.unlink()  # names the build folder; the package is not an editable or URL install
    # Byte code for this project (the dependencies' was made in the cache), named by the installed path.
    compile_bytecode([site / package for package in spec.packages], env, f"{spec.prefix}/python",
                     interpreter(env))
    return env


def stage_assets(spec: Spec, top: Path, prefix_dir: Path, env: Path) -> str:
    """Copy the read-only assets (found through CUNZHAN_ASSETS) and compile their catalogs; return the kiosk's
    database schema version (the number of migrations it knows), which preinst compares against."""
    assets = prefix_dir / "assets"
    shutil.copytree(top / "assets", assets, ignore=shutil.ignore_patterns("*.mo", "__pycache__"))
    environ = {**os.environ, "CUNZHAN_ASSETS": str(assets)}
    schema = "0"
    with tempfile.TemporaryDirectory() as home:
        environ["CUNZHAN_HOME"] = home
        run([str(interpreter(env)), "-m", "cunzhan.i18n", "compile"], env=environ)
        if spec.extra == "kiosk":
            schema = run([str(interpreter(env)), "-c",
                          "from kiosk.store import KNOWN_MIGRATIONS; print(len(KNOWN_MIGRATIONS))"],
                         env=environ).stdout.strip()
    return schema


def stage_recipe_files(spec: Spec, root: Path, values: dict[str, str]) -> None:
    """The files the recipe adds (session scripts, units, config), placeholders filled in, modes kept."""
    files = spec.recipe / "files"
    for path in sorted(files.rglob("*")):
        dest = root / path.relative_to(files)
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(substitute(path.read_text(), values))
        dest.chmod(0o755 if os.access(path, os.X_OK) else 0o644)
    doc = root / "usr" / "share" / "doc" / spec.name
    doc.mkdir(parents=True, exist_ok=True)
    shutil.copy2(HERE / "copyright", doc / "copyright")


def write_control(spec: Spec, root: Path, values: dict[str, str]) -> None:
    """DEBIAN/: control, maintainer scripts, conffiles (everything under /etc), md5sums."""
    control_dir = root / "DEBIAN"
    control_dir.mkdir()
    # glibc (the runtime's floor, measured), the libraries the runtime leaves to the system, then the recipe's.
    depends = [f"libc6 (>= {values['GLIBC_FLOOR']})", *sorted(set(SYSTEM_LIBS.values())),
               *read_list(spec.recipe / "depends.txt")]
    values = {**values,
              "DEPENDS": ", ".join(depends),
              "INSTALLED_SIZE": str(installed_size_kib(root)),
              "SUMMARY": spec.summary,
              "DESCRIPTION": "\n".join(" " + (line or ".") for line in spec.description.splitlines())}
    (control_dir / "control").write_text(substitute((HERE / "control.in").read_text(), values))
    for script in ("preinst", "postinst", "prerm", "postrm"):
        path = spec.recipe / script
        if path.exists():
            dest = control_dir / script
            dest.write_text(substitute(path.read_text(), values))
            dest.chmod(0o755)
    etc = root / "etc"
    conffiles = sorted("/" + str(p.relative_to(root)) for p in etc.rglob("*") if p.is_file()) if etc.exists() else []
    if conffiles:
        (control_dir / "conffiles").write_text("\n".join(conffiles) + "\n")
    sums = [f"{hashlib.md5(path.read_bytes()).hexdigest()}  {path.relative_to(root)}"
            for path in sorted(root.rglob("*"))
            if path.is_file() and not path.is_symlink() and control_dir not in path.parents]
    (control_dir / "md5sums").write_text("\n".join(sums) + "\n")


def build(spec: Spec, *, top: Path, out: Path, work: Path, python: str, version: str, compress: str) -> Path:
    """Build one .deb and return its path."""
    steps = Steps(spec.name)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    deps = dependency_env(spec, top, work, python)
    steps.done("dependency environment")

    root = work / spec.name / "root"
    if root.exists():
        shutil.rmtree(root)
    prefix_dir = root / spec.prefix.lstrip("/")
    prefix_dir.mkdir(parents=True)
    env = stage_python(spec, top, work, deps, prefix_dir)
    steps.done("runtime with this project")
    schema = stage_assets(spec, top, prefix_dir, env)
    base = Path(interpreter_info(python)["base_prefix"])
    # The prefix the runtime was copied from is rewritten, unless it is the system's own (/usr: Debian's python3),
    # whose name is in every text file that mentions a system path.
    copied_from = [] if base in {Path("/usr"), Path("/usr/local"), Path("/")} else [base]
    relocate_text(env, [deps.resolve(), env.resolve(), *copied_from], f"{spec.prefix}/python")
    floor = glibc_floor(elf_files(env))
    (prefix_dir / "VERSION").write_text(f"version={version}\nschema={schema}\nglibc={floor}\n")

    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    values = {"VERSION": version, "SCHEMA": schema, "PREFIX": spec.prefix, "PACKAGE": spec.name,
              "GLIBC_FLOOR": floor, "ARCH": arch}
    stage_recipe_files(spec, root, values)
    write_control(spec, root, values)
    steps.done("files and metadata")

    check_no_build_paths(root, [work.resolve(), top.resolve(), *copied_from])
    deb = out / f"{spec.name}_{version}_{arch}.deb"
    level = ["-z6"] if compress == "gzip" else []
    run(["dpkg-deb", "--root-owner-group", f"-Z{compress}", *level, "--build", str(root), str(deb)])
    steps.done(f"dpkg-deb ({compress})")
    return deb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package", choices=sorted(SPECS))
    parser.add_argument("--top", type=Path, default=HERE.parent.parent, help="the source tree")
    parser.add_argument("--out", type=Path, default=None, help="folder for the .deb (default: TOP/dist)")
    parser.add_argument("--work", type=Path, default=None, help="build folder (default: TOP/build/deb)")
    parser.add_argument("--python", default=sys.executable,
                        help="the Python whose interpreter the package carries (default: the one running this; a "
                             "venv's python stands for its base interpreter)")
    parser.add_argument("--version", default=None, help="Debian version (default: pyproject version, revision 1)")
    parser.add_argument("--compress", default="gzip", choices=["gzip", "xz", "zstd", "none"])
    args = parser.parse_args(argv)
    top = args.top.resolve()
    version = args.version or f"{project_version(top)}-1"
    deb = build(SPECS[args.package], top=top, out=(args.out or top / "dist").resolve(),
                work=(args.work or top / "build" / "deb").resolve(), python=args.python, version=version,
                compress=args.compress)
    print(deb)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
