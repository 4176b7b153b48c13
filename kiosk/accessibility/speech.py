"""Speech out: pyttsx3 (espeak-ng on Linux, SAPI5 on Windows) rendered to WAV, played through something stoppable.

How a prompt is spoken:
1. `Speaker.say(text)` returns at once: it records the text (for 重听), shows it as a caption, and hands a job to the
   speaker's dispatcher thread. A newer `say()` or a `stop()` makes any older job stale.
   Before that, numbers are put in words the way people say them (`mandarin.spoken_text`: 上午十点半, 幺三八…).
2. The dispatcher looks the text up in the caches (announcements rendered before, see `precache`), otherwise asks the
   renderer process (`kiosk.accessibility._tts_worker`, pyttsx3 `save_to_file`) to write a WAV. The renderer turns
   the text into what its engine and voice read well (`mandarin.engine_text`): tone-numbered pinyin for espeak-ng's
   `cmn-latn-pinyin` voice, the characters themselves for a Chinese SAPI5 voice.
3. If the job is still current, a player starts: a subprocess (`pw-play`, `paplay`, `aplay`, sox `play`) on Linux,
   `winsound` on Windows, or — on a machine without audio hardware — the file sink (`CUNZHAN_AUDIO_SINK=<folder>`),
   a subprocess that writes in real time what a listener would hear into a WAV in that folder.
4. `stop()` (any touch or key) terminates the player process: silence within milliseconds, well inside 100 ms.

With `CUNZHAN_SPEECH_LOG=<file>` set, one JSON line per utterance played is appended to that file:
`{"voice": <voice id>, "text": <the exact text the engine rendered>}`, or `{"voice": …, "private": true}` (no text)
for a private detail spoken through headphones.

Privacy: `say_private` speaks ID/phone numbers only when the kiosk has private audio (headphones, the
`private_audio` setting); otherwise the masked form and "shown on screen". Clear private text is never cached on disk
and its WAV is deleted as soon as it is no longer playing. Session renders are deleted by `reset()`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from cunzhan import paths
from cunzhan.i18n import N_, current_locale, sentences
from cunzhan.i18n import gettext as _
from kiosk import settings as s
from kiosk.accessibility.mandarin import is_pinyin_voice, spoken_text
from kiosk.settings import Settings

SINK_ENV = "CUNZHAN_AUDIO_SINK"  # folder: play into WAV files there instead of a loudspeaker
LOG_ENV = (
    "CUNZHAN_SPEECH_LOG"  # file: one JSON line per utterance played (voice id and the engine's exact text)
)
RENDER_CACHE_VERSION = "2"  # bump when rendering changes, so cached WAVs are re-made
_STOP_GRACE_S = 0.05  # a player gets this long to exit on SIGTERM before it is killed


# --------------------------------------------------------------------------------------------- players


class Player(Protocol):
    """Something that plays a WAV file and can be silenced at once."""

    def play(self, wav: Path) -> None:
        """Start playing `wav` (returns at once), replacing anything playing."""

    def stop(self) -> None:
        """Silence now; returns when the audio has stopped."""

    def is_playing(self) -> bool:
        """Whether audio is still coming out."""


class CommandPlayer:
    """Plays through a command-line player in a subprocess; stop() ends the process (SIGTERM, then SIGKILL)."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _command(self, wav: Path) -> list[str]:
        return [*self.argv, str(wav)]

    def play(self, wav: Path) -> None:
        with self._lock:
            self._stop_locked()
            self.process = subprocess.Popen(
                self._command(wav),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def is_playing(self) -> bool:
        proc = self.process
        return proc is not None and proc.poll() is None


class FileSinkPlayer(CommandPlayer):
    """The stand-in loudspeaker: writes, in real time, what would be heard into numbered WAV files in `folder`."""

    def __init__(self, folder: Path) -> None:
        super().__init__([sys.executable, "-I", "-S", str(Path(__file__).with_name("_sink.py"))])
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.last_output: Path | None = None

    def _command(self, wav: Path) -> list[str]:
        self.count += 1
        self.last_output = self.folder / f"{time.strftime('%H%M%S')}-{self.count:04d}.wav"
        return [*self.argv, str(wav), str(self.last_output)]


class WinsoundPlayer:
    """Windows: the system's asynchronous WAV playback, purged on stop()."""

    def __init__(self) -> None:
        self._until = 0.0

    def play(self, wav: Path) -> None:
        import importlib
        import wave

        winsound: Any = importlib.import_module("winsound")  # Windows only
        with wave.open(str(wav), "rb") as w:
            length = w.getnframes() / float(w.getframerate())
        winsound.PlaySound(str(wav), winsound.SND_FILENAME | winsound.SND_ASYNC | winsound.SND_NODEFAULT)
        self._until = time.monotonic() + length

    def stop(self) -> None:
        import importlib

        winsound: Any = importlib.import_module("winsound")
        winsound.PlaySound(None, winsound.SND_PURGE)
        self._until = 0.0

    def is_playing(self) -> bool:
        return time.monotonic() < self._until


# Linux players in order of preference: PipeWire, PulseAudio, ALSA, sox.
_LINUX_PLAYERS: tuple[tuple[str, ...], ...] = (("pw-play",), ("paplay",), ("aplay", "-q"), ("play", "-q"))


def default_player() -> Player | None:
    """The file sink when CUNZHAN_AUDIO_SINK is set, else the platform's player; None when nothing can play."""
    sink = os.environ.get(SINK_ENV)
    if sink:
        return FileSinkPlayer(Path(sink))
    if sys.platform == "win32":
        return WinsoundPlayer()
    for argv in _LINUX_PLAYERS:
        if shutil.which(argv[0]):
            return CommandPlayer(argv)
    return None


# --------------------------------------------------------------------------------------------- renderer


class SpeechUnavailable(RuntimeError):
    """The speech engine could not be started or could not render."""


class Renderer:
    """Client of the pyttsx3 renderer process (one request at a time; restarted if it dies)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self.driver = ""
        self.pipeline = ""  # what turns text into engine text (e.g. "pypinyin 0.55.0"): part of the cache key

    def _ensure(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            env = dict(os.environ)
            root = str(Path(__file__).resolve().parents[2])
            env["PYTHONPATH"] = (
                root + os.pathsep + env.get("PYTHONPATH", "") if env.get("PYTHONPATH") else root
            )
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "kiosk.accessibility._tts_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
                env=env,
                bufsize=1,
            )
        return self._proc

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            proc = self._ensure()
            stdin: IO[str] | None = proc.stdin
            stdout: IO[str] | None = proc.stdout
            if stdin is None or stdout is None:
                raise SpeechUnavailable("renderer has no pipes")
            try:
                stdin.write(json.dumps(message, ensure_ascii=False) + "\n")
                stdin.flush()
                line = stdout.readline()
            except (BrokenPipeError, OSError) as exc:
                self._proc = None
                raise SpeechUnavailable(str(exc)) from exc
            if not line:
                self._proc = None
                raise SpeechUnavailable("the speech renderer stopped")
            reply: dict[str, Any] = json.loads(line)
            if "driver" in reply:
                self.driver = str(reply["driver"])
            if "pipeline" in reply:
                self.pipeline = str(reply["pipeline"])
            return reply

    def voices(self) -> list[dict[str, Any]]:
        reply = self.request({"op": "voices"})
        if not reply.get("ok"):
            raise SpeechUnavailable(str(reply.get("error")))
        return list(reply["voices"])

    def render(self, text: str, voice: str, rate: int, volume: float, path: Path) -> tuple[str, str]:
        """Render `text` into `path`; (the voice id in effect, the exact text the engine rendered)."""
        reply = self.request(
            {"op": "render", "text": text, "voice": voice, "rate": rate, "volume": volume, "path": str(path)}
        )
        if not reply.get("ok"):
            raise SpeechUnavailable(str(reply.get("error")))
        return str(reply["voice"]), str(reply.get("text", text))

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            if proc.stdin:
                proc.stdin.close()
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --------------------------------------------------------------------------------------------- voices


def _is_mandarin(voice: dict[str, Any]) -> bool:
    ident = str(voice.get("id", "")).lower()
    name = str(voice.get("name", "")).lower()
    langs = [str(x).lower() for x in voice.get("languages", [])]
    if any(
        lang in {"cmn", "zh", "zh-cn", "zh_cn", "zh-cmn"} or lang.startswith(("cmn", "zh-cn", "zh_cn"))
        for lang in langs
    ):
        return True
    # SAPI5 voices: ids like ...\Tokens\TTS_MS_ZH-CN_HUIHUI_11.0, names like "Microsoft Huihui Desktop".
    return bool(re.search(r"(^|[/_\\-])(cmn|zh-cn|zh_cn)([/_\\-]|$)", ident)) or "chinese" in name


def _is_english(voice: dict[str, Any]) -> bool:
    ident = str(voice.get("id", "")).lower()
    langs = [str(x).lower() for x in voice.get("languages", [])]
    return (
        any(lang.startswith("en") for lang in langs)
        or bool(re.search(r"(^|[/_\\-])en([/_\\-]|$)", ident))
        or "english" in str(voice.get("name", "")).lower()
    )


def choose_voice(voices: Sequence[dict[str, Any]], locale: str, driver: str = "espeak") -> str | None:
    """The voice id for a locale, chosen by engine: English (en-us preferred) for en; for zh_CN, on espeak-ng its
    Mandarin pinyin voice `cmn-latn-pinyin` (its `cmn` voice reads characters as English-spelt pinyin, so it is never
    used), on any other engine (SAPI5, NSSS) a Mandarin voice, which reads characters itself."""
    if locale.startswith("zh"):
        for v in voices:
            if _is_mandarin(v) and (driver != "espeak" or is_pinyin_voice(driver, str(v["id"]))):
                return str(v["id"])
        return None
    english = [v for v in voices if _is_english(v)]
    for v in english:
        if any(str(x).lower() == "en-us" for x in v.get("languages", [])):
            return str(v["id"])
    return str(english[0]["id"]) if english else None


def find_mandarin_voice() -> tuple[str | None, str]:
    """(voice id, "") when a Mandarin voice exists, else (None, a plain explanation in the UI language).

    Used by `python -m kiosk doctor`.
    """
    renderer = Renderer()
    try:
        voices = renderer.voices()
    except SpeechUnavailable as exc:
        if sys.platform != "win32" and not shutil.which("espeak-ng"):
            return None, _(N_("espeak-ng is not installed"))
        return None, _(N_("The speech engine could not start: {error}")).format(error=exc)
    finally:
        renderer.close()
    voice = choose_voice(voices, "zh_CN", renderer.driver)
    if voice:
        return voice, ""
    if renderer.driver == "sapi5":
        return None, _(N_("Windows has no Chinese speech voice installed"))
    return None, _(N_("espeak-ng has no Mandarin pinyin voice (cmn-latn-pinyin)"))


# --------------------------------------------------------------------------------------------- speaker


@dataclass(slots=True)
class _Job:
    generation: int
    text: str
    locale: str
    private: bool


@dataclass(slots=True)
class _Session:
    rate_multiplier: float = 1.0
    volume: float | None = None
    enabled: bool = True
    files: dict[str, Path] = field(default_factory=dict)  # this session's renders (key → WAV)


def _digits_spoken(text: str, locale: str) -> str:
    from kiosk.accessibility.numbers import speak_masked

    return speak_masked(text, locale)


class Speaker:
    """SpeechOut through pyttsx3; see the module docstring."""

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        player: Player | None = None,
        cache_dir: Path | None = None,
        enabled: bool = True,
    ) -> None:
        self.settings = settings or Settings()
        self.player = player if player is not None else default_player()
        self.on_caption: Callable[[str], None] | None = None
        self.last_text = ""
        self.last_voice = ""  # voice id the engine reported for the last render
        self.last_engine_text = (
            ""  # the exact text the engine rendered for the last (not private) prompt played
        )
        self.last_error = ""
        self.last_play_at = 0.0  # perf_counter() when the last prompt's audio was handed to the player
        self.spoken: deque[str] = deque(maxlen=50)  # texts handed to the synthesiser (cleared by reset())
        self.cache_dir = cache_dir or paths.data_dir() / "speech-cache"
        self._session_dir = paths.data_dir() / "speech-session" / uuid.uuid4().hex[:12]
        self._renderer = Renderer()
        self._voices: list[dict[str, Any]] | None = None
        self._voice_for: dict[str, str | None] = {}
        self._engine_texts: dict[str, str] = {}  # cache key → the engine's exact text (for the speech log)
        self._log_lock = threading.Lock()
        self._session = _Session(enabled=enabled)
        self._kiosk_enabled = enabled
        self._lock = threading.Condition()
        self._generation = 0
        self._pending: _Job | None = None
        self._private_file: Path | None = None
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="speech", daemon=True)
        self._thread.start()

    # ---- the SpeechOut protocol

    def say(self, text: str) -> None:
        """Speak `text` (replacing whatever is being spoken) and remember it for `repeat()`."""
        self.last_text = text
        self._caption(text)
        self._submit(text, private=False)

    def say_private(self, clear: str, masked: str, *, then: str = "") -> None:
        """Speak `clear` only through private audio; otherwise the masked form and "shown on screen". `then` (the
        next screen's announcement) follows in the same breath as ordinary text: only the detail is read digit by
        digit, never the dates and choices after it.

        The caption is always the masked form: the screen masks personal details by default.
        """
        locale = current_locale()
        masked_spoken = _digits_spoken(masked, locale)
        if re.search(r"[0-9*]", masked):  # a masked number: say where the full one is
            masked_spoken = _(N_("{masked}, shown on screen")).format(masked=masked_spoken)
        public = sentences(masked_spoken, then)
        self._caption(sentences(masked, then))
        self.last_text = public  # 重听 never repeats a private detail on a later, possibly public, device
        if self.settings.get(s.PRIVATE_AUDIO):
            self._submit(sentences(clear, then), private=True)
        else:
            self._submit(public, private=False)

    def stop(self) -> None:
        """Silence now: drop pending work and end the player (returns when the player is gone)."""
        with self._lock:
            self._generation += 1
            self._pending = None
        if self.player is not None:
            self.player.stop()
        self._drop_private_file()

    def repeat(self) -> None:
        """Say the last prompt again (重听)."""
        if self.last_text:
            self.say(self.last_text)

    def configure(self, *, rate_multiplier: float, volume: float | None = None, enabled: bool = True) -> None:
        """This session's rate (× the kiosk rate), volume (0..1, None = kiosk default) and whether to speak."""
        self._session.rate_multiplier = max(0.3, min(3.0, rate_multiplier))
        self._session.volume = None if volume is None else max(0.0, min(1.0, volume))
        self._session.enabled = enabled
        if not enabled:
            self.stop()

    def reset(self) -> None:
        """End of a session: silence, kiosk rate and volume, nothing remembered, session renders deleted."""
        self.stop()
        self.last_text = ""
        self.spoken.clear()
        old = self._session
        self._session = _Session(enabled=self._kiosk_enabled)
        self._engine_texts.clear()
        for wav in old.files.values():
            wav.unlink(missing_ok=True)

    # ---- extras

    @property
    def rate(self) -> int:
        """Words per minute in effect: the kiosk's rate × this session's multiplier."""
        return max(60, round(int(self.settings.get(s.SPEECH_RATE)) * self._session.rate_multiplier))

    @property
    def volume(self) -> float:
        v = self._session.volume
        return float(self.settings.get(s.VOLUME)) if v is None else v

    def voice_for(self, locale: str) -> str | None:
        """The voice used for `locale` (None when the engine has none)."""
        key = "zh_CN" if locale.startswith("zh") else "en"
        if key not in self._voice_for:
            if self._voices is None:
                self._voices = self._renderer.voices()
            self._voice_for[key] = choose_voice(self._voices, key, self._renderer.driver)
        return self._voice_for[key]

    def precache(self, texts: Iterable[str], locale: str | None = None) -> None:
        """Render fixed announcements ahead of time into the data folder, so arriving on a screen is instant.

        Only for texts without personal details (they are kept on disk across sessions).
        """
        locale = locale or current_locale()
        for text in texts:
            try:
                self._render(spoken_text(text, locale), locale, persistent=True)  # as `say` will ask for it
            except SpeechUnavailable as exc:
                self.last_error = str(exc)
                return

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until the dispatcher has handled every job (tests and benches)."""
        return self._idle.wait(timeout)

    def is_playing(self) -> bool:
        return self.player is not None and self.player.is_playing()

    def close(self) -> None:
        """Stop and release the renderer process (the kiosk calls this when it exits)."""
        self.stop()
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._thread.join(2)
        self._renderer.close()
        shutil.rmtree(self._session_dir, ignore_errors=True)

    # ---- internals

    def _caption(self, text: str) -> None:
        if self.on_caption is not None:
            self.on_caption(text)

    def _submit(self, text: str, *, private: bool) -> None:
        if not self._session.enabled or self.player is None or not text.strip():
            return
        locale = current_locale()
        text = spoken_text(text, locale)  # numbers, dates, times and codes in words, as people say them
        with self._lock:
            self._generation += 1
            self._pending = _Job(self._generation, text, locale, private)
            self._idle.clear()
            self._lock.notify_all()
        # A new prompt replaces the current one at once, even before the new audio is ready.
        self.player.stop()

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and not self._closed:
                    self._idle.set()
                    self._lock.wait()
                if self._closed:
                    self._idle.set()
                    return
                job, self._pending = self._pending, None
            if job is None:
                continue
            try:
                self._speak(job)
            except SpeechUnavailable as exc:
                self.last_error = str(exc)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"

    def _speak(self, job: _Job) -> None:
        self._drop_private_file()
        wav, voice, engine_text = self._render(job.text, job.locale, private=job.private)
        with self._lock:
            current = job.generation == self._generation and self.player is not None
        if not current or self.player is None:
            if job.private:
                wav.unlink(missing_ok=True)
            return
        self.player.play(wav)
        self.last_play_at = time.perf_counter()
        self.last_voice = voice
        self.last_engine_text = "" if job.private else engine_text
        self._log(voice, None if job.private else engine_text)
        if job.private:
            self._private_file = wav

    def _log(self, voice: str, text: str | None) -> None:
        """One line in the CUNZHAN_SPEECH_LOG file, when set; a private utterance's text is never written."""
        target = os.environ.get(LOG_ENV)
        if not target:
            return
        entry: dict[str, Any] = (
            {"voice": voice, "private": True} if text is None else {"voice": voice, "text": text}
        )
        try:
            with self._log_lock, open(target, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        except OSError as exc:
            self.last_error = f"speech log: {exc}"

    def _key(self, text: str, voice: str, rate: int, volume: float) -> str:
        material = json.dumps(
            [
                RENDER_CACHE_VERSION,
                self._renderer.driver,
                self._renderer.pipeline,
                text,
                voice,
                rate,
                round(volume, 2),
            ],
            ensure_ascii=False,
        )
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]

    def _render(
        self, text: str, locale: str, *, private: bool = False, persistent: bool = False
    ) -> tuple[Path, str, str]:
        """(the WAV, the voice id, the exact text the engine rendered) for `text`, from a cache when possible."""
        voice = self.voice_for(locale)
        if voice is None:
            raise SpeechUnavailable(f"no voice for {locale}")
        rate, volume = self.rate, self.volume
        key = self._key(text, voice, rate, volume)
        if not private:
            disk, said = self.cache_dir / f"{key}.wav", self.cache_dir / f"{key}.json"
            if disk.exists() and said.exists():
                try:
                    known = json.loads(said.read_text(encoding="utf-8"))
                    return disk, str(known["voice"]), str(known["text"])
                except (OSError, ValueError, KeyError, TypeError):
                    pass  # an unreadable note: render again
            session = self._session.files.get(key)
            if session is not None and session.exists() and key in self._engine_texts:
                return session, voice, self._engine_texts[key]
        if persistent and not private:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            target = self.cache_dir / f"{key}.wav"
        else:
            self._session_dir.mkdir(parents=True, exist_ok=True)
            name = uuid.uuid4().hex if private else key  # a private file's name says nothing about its text
            target = self._session_dir / f"{name}.wav"
        self.spoken.append(text)
        used, engine_text = self._renderer.render(text, voice, rate, volume, target)
        if persistent and not private:
            note = target.with_suffix(".json")
            note.write_text(
                json.dumps({"voice": used, "text": engine_text}, ensure_ascii=False), encoding="utf-8"
            )
        elif not private:
            self._session.files[key] = target
            self._engine_texts[key] = engine_text
        return target, used, engine_text

    def _drop_private_file(self) -> None:
        wav, self._private_file = self._private_file, None
        if wav is not None:
            if self.player is not None and self.player.is_playing():
                self.player.stop()
            wav.unlink(missing_ok=True)


def make_speaker(
    *, settings: Settings | None = None, enabled: bool = True, player: Player | None = None
) -> Speaker | None:
    """A Speaker when something can play and the engine has a voice for the kiosk language, else None."""
    speaker = Speaker(settings=settings, player=player, enabled=enabled)
    if speaker.player is None:
        speaker.close()
        return None
    try:
        voice = speaker.voice_for(current_locale())
    except SpeechUnavailable:
        voice = None
    if voice is None:
        speaker.close()
        return None
    return speaker
