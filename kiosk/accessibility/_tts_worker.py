"""The speech renderer process: pyttsx3 (espeak-ng on Linux, SAPI5 on Windows) turning text into WAV files.

Run by `kiosk.accessibility.speech` as `python -m kiosk.accessibility._tts_worker`; it reads one JSON request per
line on stdin and answers with one JSON line on stdout. Why a separate process rather than a thread in the kiosk:
- pyttsx3's espeak driver initialises libespeak-ng once per process, renders on espeak's own thread and keeps its
  state in driver globals; driving it from a kiosk thread while Qt runs is fragile, and a fault in the C library
  would take the whole kiosk down with it;
- pyttsx3 2.99's espeak `save_to_file` + `runAndWait` returns before espeak has finished (the loop ends as soon as
  the queued `endLoop` is pumped), so the next request would be written into the previous file. We therefore wait
  for `espeak_Synchronize()` and the `finished-utterance` notification before answering — one request at a time,
  in one process, which is exactly what this loop gives;
- the driver prints to stdout; here stdout is re-pointed at stderr and the protocol uses a private copy of the fd.

The text of a render request is a prompt in spoken form (numbers in words); the renderer turns it into what its
engine and voice read well (`kiosk.accessibility.mandarin.engine_text`: tone-numbered pinyin for espeak-ng's
`cmn-latn-pinyin` voice, unchanged for other voices) and answers with the exact text the engine rendered.

Requests:
    {"op": "voices"}                      → {"ok": true, "driver": "espeak", "pipeline": "pypinyin 0.55.0",
                                             "voices": [{"id", "name", "languages"}]}
    {"op": "render", "text", "voice", "rate", "volume", "path"}
                                          → {"ok": true, "voice": "<voice id in effect>", "path": "...",
                                             "text": "<the exact text the engine rendered>"}
Any failure answers {"ok": false, "error": "..."} and the loop carries on.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

RENDER_TIMEOUT_S = 20.0


def _driver_name() -> str:
    if sys.platform == "win32":
        return "sapi5"
    if sys.platform == "darwin":
        return "nsss"
    return "espeak"


class Renderer:
    """One pyttsx3 engine, used from this process's main thread only."""

    def __init__(self) -> None:
        import pyttsx3

        from kiosk.accessibility import mandarin

        self.driver = _driver_name()
        self.pipeline = mandarin.pipeline_name(self.driver)
        self.engine = pyttsx3.init(self.driver)
        self._done = threading.Event()
        self.engine.connect("finished-utterance", self._finished)

    def _finished(self, name: str | None = None, completed: bool = True) -> None:
        self._done.set()

    def voices(self) -> list[dict[str, Any]]:
        found = []
        for v in self.engine.getProperty("voices") or []:
            languages = [
                lang.decode("utf-8", "ignore") if isinstance(lang, bytes) else str(lang)
                for lang in (v.languages or [])
            ]
            found.append({"id": str(v.id), "name": str(v.name or ""), "languages": languages})
        return found

    def render(self, text: str, voice: str, rate: int, volume: float, path: str) -> tuple[str, str]:
        """Render `text` into the WAV file `path` (written under a temporary name, then renamed); (the voice id in
        effect, the exact text handed to the engine)."""
        from kiosk.accessibility.mandarin import engine_text

        text = engine_text(text, self.driver, voice)
        part = path + ".part.wav"
        volume = max(0.0, min(1.0, float(volume)))
        if self.driver == "espeak":
            from pyttsx3.drivers import _espeak

            # Set the properties on the driver at once rather than through pyttsx3's command queue (which holds them
            # until the run loop starts), then let espeak-ng apply them before the text is queued: otherwise a new
            # rate was sometimes applied one utterance late (found while testing the elder mode's slower rate).
            driver = self.engine.proxy._driver
            driver.setProperty("voice", voice)
            driver.setProperty("rate", int(rate))
            driver.setProperty("volume", volume)
            _espeak.Synchronize()
        else:
            self.engine.setProperty("voice", voice)
            self.engine.setProperty("rate", int(rate))
            self.engine.setProperty("volume", volume)
        self._done.clear()
        self.engine.save_to_file(text, part)
        self.engine.runAndWait()
        if self.driver == "espeak":
            from pyttsx3.drivers import _espeak

            # espeak-ng renders asynchronously on its own thread: wait for it (see the module docstring).
            _espeak.Synchronize()
            if not self._done.wait(RENDER_TIMEOUT_S):
                raise TimeoutError("espeak-ng did not finish rendering")
        if not Path(part).exists():
            raise RuntimeError("the speech engine wrote no audio")
        os.replace(part, path)
        return str(self.engine.getProperty("voice") or voice), text


def serve(stdin: Any, out: Any) -> None:
    """Answer requests until stdin closes."""
    renderer: Renderer | None = None
    for line in stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if renderer is None:
                renderer = Renderer()
            if request.get("op") == "voices":
                reply: dict[str, Any] = {
                    "ok": True,
                    "driver": renderer.driver,
                    "pipeline": renderer.pipeline,
                    "voices": renderer.voices(),
                }
            elif request.get("op") == "render":
                used, text = renderer.render(
                    str(request["text"]),
                    str(request["voice"]),
                    int(request["rate"]),
                    float(request["volume"]),
                    str(request["path"]),
                )
                reply = {"ok": True, "voice": used, "path": request["path"], "text": text}
            else:
                reply = {"ok": False, "error": f"unknown op {request.get('op')!r}"}
        except Exception as exc:
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply, ensure_ascii=False) + "\n")
        out.flush()
        if renderer is not None and renderer.driver == "espeak":
            # pypinyin's data (~0.3 s, once) is loaded after the first answer: the kiosk waits for that answer (the
            # voices) on its UI thread, and loading it alongside the engine's start would slow both.
            from kiosk.accessibility.mandarin import load_pinyin

            load_pinyin()


def main() -> int:
    # Keep a private handle on the real stdout for the protocol; everything printed by the driver goes to stderr.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    stdin = open(sys.stdin.fileno(), encoding="utf-8", closefd=False)
    serve(stdin, protocol)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
