"""Entry point of the Windows build (PyInstaller): `cunzhan-kiosk.exe [COMMAND ...]`.

Without arguments it starts the kiosk full-screen, which is what the sign-in entry runs. The assets (translations,
grammars, sounds) are bundled next to the program; CUNZHAN_ASSETS points the kiosk at them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> int:
    """Run `python -m kiosk` with the bundled assets; no arguments means `run --fullscreen`."""
    bundle = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent))
    os.environ.setdefault("CUNZHAN_ASSETS", str(bundle / "assets"))
    from kiosk.__main__ import main as kiosk_main

    return kiosk_main(sys.argv[1:] or ["run", "--fullscreen"])


if __name__ == "__main__":
    raise SystemExit(main())
