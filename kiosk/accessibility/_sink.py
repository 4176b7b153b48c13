"""A stand-in loudspeaker: `python -I -S _sink.py IN.wav OUT.wav` "plays" IN in real time by copying its frames into
OUT at the rate they would be heard, so OUT holds exactly what a listener heard until the player was stopped.

Used when the kiosk has no audio hardware (tests, CI, a bench machine) — only the speaker is stood in for; the speech
is the real synthesised audio. Standard library only, so it starts in a few milliseconds (`-I -S`). On SIGTERM it
closes OUT properly (a valid, shorter WAV) and exits; the speaker's `stop()` terminates it this way.
"""

from __future__ import annotations

import signal
import sys
import time
import wave

CHUNK_S = 0.02  # 20 ms of audio per write: stop() is heard as silence within one chunk


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(0)


def play(source: str, target: str) -> None:
    signal.signal(signal.SIGTERM, _terminate)
    with wave.open(source, "rb") as src, wave.open(target, "wb") as out:
        out.setnchannels(src.getnchannels())
        out.setsampwidth(src.getsampwidth())
        out.setframerate(src.getframerate())
        rate = src.getframerate()
        per_chunk = max(1, int(rate * CHUNK_S))
        started = time.monotonic()
        played = 0
        try:
            while True:
                frames = src.readframes(per_chunk)
                if not frames:
                    break
                out.writeframes(frames)
                played += len(frames) // (src.getsampwidth() * src.getnchannels())
                # Sleep until the audio written so far would have been heard.
                delay = started + played / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        finally:
            out.close()  # patches the header, so a stopped file is a valid WAV of what was heard


if __name__ == "__main__":
    play(sys.argv[1], sys.argv[2])
