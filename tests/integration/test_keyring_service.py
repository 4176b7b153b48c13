"""The suite's own keyring (tools/with-services.sh): should gnome-keyring go away mid-run, the private session bus
starts it again, unlocked, on the same keyring, instead of the system's daemon on ~/.local/share that wants a
password prompt nobody can answer ("Prompt dismissed", once on a fresh machine). Tried in a run of its own (its own
bus and daemon), so that no other test of the suite loses its keyring for a moment."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import os, signal, time
from pathlib import Path
import keyring

def daemons():
    runtime = os.environ["XDG_RUNTIME_DIR"].encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().startswith("gnome-keyring") \\
                    and runtime in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            pass
    return found

keyring.set_password("cunzhan-test-revival", "probe", "kept")
first = daemons()
assert first, "no keyring daemon of this run"
for pid in first:
    os.kill(pid, signal.SIGTERM)
deadline = time.monotonic() + 30
while any(Path(f"/proc/{pid}").exists() for pid in first):
    assert time.monotonic() < deadline, "the daemon did not stop"
    time.sleep(0.05)
print("after:", keyring.get_password("cunzhan-test-revival", "probe"))
keyring.set_password("cunzhan-test-revival", "probe", "again")
print("again:", keyring.get_password("cunzhan-test-revival", "probe"))
print("new daemon:", bool(daemons()) and not set(daemons()) & set(first))
"""


def test_the_keyring_comes_back_unlocked_with_its_secrets_when_its_daemon_dies(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DBUS_", "CUNZHAN_", "XDG_", "GNOME_KEYRING"))
    }
    env |= {"CUNZHAN_TEST_PG_URL": "not needed here", "HOME": str(tmp_path)}  # no PostgreSQL for this run
    log = tmp_path / "run.log"
    with log.open("w") as out:
        run = subprocess.Popen(
            [str(ROOT / "tools" / "with-services.sh"), sys.executable, "-c", PROBE],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: whatever it leaves running is stopped below
        )
        try:
            status = run.wait(timeout=120)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGKILL)
    text = log.read_text()
    assert status == 0, text[-3000:]
    assert [line for line in text.splitlines() if line.startswith(("after:", "again:", "new daemon:"))] == [
        "after: kept",
        "again: again",
        "new daemon: True",
    ]
