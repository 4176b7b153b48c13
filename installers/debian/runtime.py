"""The relocatable CPython each Debian package carries, so that installing it needs no system Python.

    runtime = build_runtime(Path("/root/.pyenv/versions/3.11.7/bin/python3.11"), work / "cache")

The runtime is a copy of the CPython the project is tested with (the build machine's interpreter behind the
project's venv, a shared-library build): its `bin/python3.X`, `lib/libpython3.X.so.1.0` and standard library, with

- the parts a kiosk never runs left out (the test suite, IDLE, Tk, turtle, 2to3, ensurepip, the static library and
  Makefile for building extensions, the NIS module) and the binaries stripped of debugging symbols;
- the shared libraries its extension modules load bundled in `lib/` when their soname or Debian package name differs
  between the systems the package installs on (OpenSSL, SQLite, readline and ncurses: e.g. libssl3 on Debian 12 is
  libssl3t64 on Debian 13, and older systems have libssl1.1), and left to the system when every Debian-based system
  has them under one soname and one package name (`SYSTEM_LIBS`, which become Depends);
- every ELF file's RUNPATH set with `$ORIGIN`, so the interpreter finds its own libraries wherever it lies.

CPython finds its standard library from the real path of its executable (the `lib/python3.X/os.py` landmark next to
`bin/`), so the copy works from the build folder, from a test's unpacked root and from /opt alike. The result is
cached under the work folder, keyed by the interpreter and this module's rules.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Bump when the way the runtime is made changes.
RUNTIME_FORMAT = "3"

# glibc's own libraries: the one thing every system has and nothing may bundle. Depends carries its version floor.
GLIBC_LIBS = frozenset({
    "linux-vdso.so.1", "ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2",
    "librt.so.1", "libutil.so.1", "libresolv.so.2",
})
# Libraries left to the system: the same soname and the same Debian package name on Debian 12, Debian 13, Ubuntu
# 22.04/24.04 and the Debian-based domestic systems; each is in Debian's base system or pulled in by the kiosk's
# own Depends (GLib uses libffi8 too, and must share one copy with Python's ctypes).
SYSTEM_LIBS = {
    "libz.so.1": "zlib1g",
    "liblzma.so.5": "liblzma5",
    "libbz2.so.1.0": "libbz2-1.0",
    "libtinfo.so.6": "libtinfo6",
    "libuuid.so.1": "libuuid1",
    "libcrypt.so.1": "libcrypt1",
    "libffi.so.8": "libffi8",
    "libexpat.so.1": "libexpat1",
}
# Parts of the standard library a kiosk or a backend never runs (names directly under lib/python3.X/).
STDLIB_LEFT_OUT = (
    "test", "idlelib", "tkinter", "turtledemo", "turtle.py", "lib2to3", "ensurepip", "pydoc_data", "__phello__",
    "config-*", "site-packages", "__pycache__",
    "EXTERNALLY-MANAGED",  # Debian's mark (PEP 668) that apt owns /usr's packages: this copy is the package's own
)
# Extension modules left out: Tk (needs X libraries the kiosk does not otherwise use) and NIS (Kerberos).
DYNLOAD_LEFT_OUT = ("_tkinter.*", "nis.*", "_test*", "xxlimited*", "_xxtestfuzz*", "_ctypes_test*")


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the build with its output when it fails (the package build uses it too)."""
    result = subprocess.run(cmd, text=True, capture_output=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"build: command failed ({result.returncode}): {' '.join(cmd)}")
    return result  # type: ignore[no-any-return]


def interpreter_info(python: str) -> dict[str, str]:
    """The interpreter behind `python` (a venv's python names its base): prefix, version, executable."""
    code = ("import json, os, sys, sysconfig; print(json.dumps({'base_prefix': sys.base_prefix, "
            "'version': '%d.%d' % sys.version_info[:2], 'full_version': sys.version.split()[0], "
            "'shared': str(sysconfig.get_config_var('Py_ENABLE_SHARED')), "
            "'ldlibrary': sysconfig.get_config_var('INSTSONAME') or ''}))")
    info: dict[str, str] = json.loads(run([python, "-c", code]).stdout)
    return info


def is_elf(path: Path) -> bool:
    """An ELF program or shared library (not an object file: PySide6 ships a few .o files)."""
    with path.open("rb") as fh:
        head = fh.read(18)
    return head[:4] == b"\x7fELF" and head[16:18] in (b"\x02\x00", b"\x03\x00")


def ldd(path: Path) -> dict[str, str]:
    """soname -> resolved path for every library `path` loads (transitively), as the dynamic loader finds them."""
    out = run(["ldd", str(path)]).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+)\s+=>\s+(.*?)\s*(\(0x[0-9a-f]+\))?$", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def elf_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p))


def glibc_floor(paths: list[Path]) -> str:
    """The newest GLIBC_x.y symbol version any of `paths` needs: the oldest glibc the package can run on."""
    newest = (2, 0)
    for chunk in range(0, len(paths), 200):
        out = run(["objdump", "-T", *[str(p) for p in paths[chunk:chunk + 200]]]).stdout
        for major, minor in re.findall(r"\bGLIBC_(\d+)\.(\d+)\b", out):
            newest = max(newest, (int(major), int(minor)))
    return f"{newest[0]}.{newest[1]}"


def build_runtime(python: str, cache: Path) -> Path:
    """The cached relocatable runtime made from `python`'s interpreter; returns its folder (bin/, lib/)."""
    info = interpreter_info(python)
    base = Path(info["base_prefix"])
    version = info["version"]
    exe = base / "bin" / f"python{version}"
    key = hashlib.sha256(
        f"{exe.resolve()}|{info['full_version']}|{exe.stat().st_mtime_ns}|{RUNTIME_FORMAT}|"
        f"{sorted(SYSTEM_LIBS.items())}|{STDLIB_LEFT_OUT}|{DYNLOAD_LEFT_OUT}".encode()
    ).hexdigest()[:16]
    rt = cache / f"runtime-{info['full_version']}-{key}"
    if (rt / ".complete").exists():
        return rt
    if rt.exists():
        shutil.rmtree(rt)
    print(f"runtime: making a relocatable CPython {info['full_version']} from {base} (cached after this)",
          file=sys.stderr, flush=True)
    (rt / "bin").mkdir(parents=True)
    (rt / "lib").mkdir()
    shutil.copy2(exe, rt / "bin" / f"python{version}")
    for alias in ("python3", "python"):
        (rt / "bin" / alias).symlink_to(f"python{version}")
    # The shared libpython the interpreter loads, wherever the loader finds it (pyenv: prefix/lib; Debian's
    # python3.X links it statically and loads none).
    for soname, where in ldd(exe).items():
        if soname.startswith("libpython") and where != "not found":
            shutil.copy2(os.path.realpath(where), rt / "lib" / soname)
    stdlib = rt / "lib" / f"python{version}"
    shutil.copytree(base / "lib" / f"python{version}", stdlib, symlinks=True,
                    ignore=lambda folder, names: _left_out(Path(folder), names, base / "lib" / f"python{version}"))
    (stdlib / "site-packages").mkdir()
    _one_site_packages(rt, version)
    bundle_libraries(rt, stdlib / "lib-dynload")
    check_runtime(rt, version)
    (rt / ".complete").write_text(json.dumps(info) + "\n")
    return rt


def _one_site_packages(rt: Path, version: str) -> None:
    """Make `lib/python3.X/site-packages` name the folder pip installs into and `site` reads, whichever CPython the
    copy is of. Upstream CPython (pyenv) uses that folder already. Debian's python3.X installs into
    `local/lib/python3.X/dist-packages` (its `posix_local` scheme), which its `site` reads too: that folder is made,
    and site-packages becomes a link to it, so the build and the tests find the packages in one place."""
    code = "import sysconfig; print(sysconfig.get_path('purelib')); print(sysconfig.get_path('platlib'))"
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    site = rt / "lib" / f"python{version}" / "site-packages"
    targets = {Path(line) for line in
               run([str(rt / "bin" / f"python{version}"), "-I", "-c", code], env=env, cwd="/").stdout.split()}
    if targets == {site}:
        return
    if len(targets) != 1 or rt.resolve() not in next(iter(targets)).resolve().parents:
        raise SystemExit(f"runtime: the copied interpreter installs into {sorted(targets)}, not one folder in {rt}")
    target = next(iter(targets))
    target.mkdir(parents=True)
    site.rmdir()
    site.symlink_to(os.path.relpath(target, site.parent))


def _left_out(folder: Path, names: list[str], stdlib: Path) -> set[str]:
    import fnmatch

    skipped = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".pyo"))}
    if folder == stdlib:
        skipped |= {n for n in names for pat in STDLIB_LEFT_OUT if fnmatch.fnmatch(n, pat)}
    if folder == stdlib / "lib-dynload":
        skipped |= {n for n in names for pat in DYNLOAD_LEFT_OUT if fnmatch.fnmatch(n, pat)}
    return skipped


def bundle_libraries(rt: Path, dynload: Path) -> None:
    """Copy the non-system libraries the interpreter and its extension modules load into lib/, strip, set RUNPATHs."""
    lib = rt / "lib"
    exe = next(p for p in (rt / "bin").iterdir() if not p.is_symlink())
    own = [exe, *[p for p in lib.iterdir() if p.name.startswith("libpython")], *sorted(dynload.glob("*.so"))]
    bundled: list[Path] = []
    for elf in own:
        for soname, where in ldd(elf).items():
            if soname in GLIBC_LIBS or soname in SYSTEM_LIBS or soname.startswith("libpython"):
                continue
            if where == "not found":
                raise SystemExit(f"runtime: {elf.name} needs {soname}, which this machine does not have")
            dest = lib / soname
            if not dest.exists():
                shutil.copy2(os.path.realpath(where), dest)
                dest.chmod(0o644)
                bundled.append(dest)
    for path in [*own, *bundled]:
        run(["strip", "--strip-unneeded", str(path)])
    run(["patchelf", "--set-rpath", "$ORIGIN/../lib", str(exe)])
    for path in [*[p for p in lib.iterdir() if p.is_file()]]:
        run(["patchelf", "--set-rpath", "$ORIGIN", str(path)])
    for path in sorted(dynload.glob("*.so")):
        run(["patchelf", "--set-rpath", "$ORIGIN/../..", str(path)])
    (rt / "BUNDLED-LIBRARIES").write_text("".join(f"{p.name}\n" for p in sorted(bundled)))


def check_runtime(rt: Path, version: str) -> None:
    """The copy runs on its own: its prefix is itself, and every extension module loads from it."""
    code = ("import sys, ssl, sqlite3, ctypes, lzma, bz2, zlib, readline, uuid, decimal, hashlib, curses, "
            "pyexpat, json, venv; print(sys.prefix); print(ssl.OPENSSL_VERSION); print(sqlite3.sqlite_version)")
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    result = run([str(rt / "bin" / f"python{version}"), "-I", "-c", code], env=env, cwd="/")
    prefix = result.stdout.splitlines()[0]
    if Path(prefix).resolve() != rt.resolve():
        raise SystemExit(f"runtime: the copied interpreter took its prefix from {prefix}, not from {rt}")
