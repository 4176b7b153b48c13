"""Voice in: offline, grammar-restricted Vosk recognition of the current screen's choices, global commands and digits.

- The grammar is the current screen's phrases + the global commands (返回 重听 首页 帮助 呼叫工作人员 是 否) + the digit
  words (零 一 幺 二 两 三 … 九 叉) + "[unk]" (so that anything else is recognised as unknown, never as a choice).
  It is written with `json.dumps(..., ensure_ascii=False)`: Vosk looks words up as UTF-8 text and silently drops
  words written as `\\uXXXX` escapes, which would leave an empty grammar.
- `on_command` receives one of the screen's phrases, a global command, or — when everything said was digits — the
  digits themselves ("13800138000", "X" for the ID check letter). The UI then reads the digits back with
  `numbers.confirm_digits_prompt` and waits for 是/否. When a Qt application exists, `on_command` runs on its main
  thread (queued through a signal); without Qt (tests, benches) it runs on the decoding thread.
- Microphone: PySide6-Essentials has no QtMultimedia (it is in the much larger Addons wheel), so capture goes through
  `arecord` (alsa-utils: present on every Linux kiosk image, reads the default ALSA/PulseAudio/PipeWire source, runs
  as a separate process we can end at once), sox's `rec` as a second choice, and `sounddevice` (PortAudio) on Windows
  when installed. Tests and benches stand in for the microphone with `WavFileSource`.
- Dictation (`VoiceCommands.dictate`, #18): the one place free speech is recognised — an optional comment after a
  rating, never required. Only with a model that has a language model of its own (`supports_dictation`); the text
  goes to the caller alone, never to `last_text` or a log: it is personal.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from cunzhan.i18n import N_
from cunzhan.i18n import gettext as _
from kiosk import settings as s
from kiosk.accessibility.api import NoVoice, VoiceIn
from kiosk.accessibility.numbers import DIGIT_WORDS, confirm_digits_prompt, parse_spoken_digits
from kiosk.settings import Settings

SAMPLE_RATE = 16000
UNKNOWN = "[unk]"
GLOBAL_COMMANDS: tuple[str, ...] = ("返回", "重听", "首页", "帮助", "呼叫工作人员", "是", "否")
_CHUNK_FRAMES = 1600  # 100 ms of 16 kHz audio per read
DICTATION_SECONDS = 30  # the longest a comment is listened for (a pause ends it sooner)

__all__ = [
    "GLOBAL_COMMANDS",
    "VoiceCommands",
    "build_grammar",
    "confirm_digits_prompt",
    "decode_wav",
    "grammar_json",
    "make_voice_commands",
    "match_phrase",
]


# --------------------------------------------------------------------------------------------- grammar


def build_grammar(
    phrases: Iterable[str], *, commands: Sequence[str] = GLOBAL_COMMANDS, digits: bool = True
) -> list[str]:
    """The phrases Vosk may recognise: the screen's, the global commands, the digit words, and "[unk]"."""
    words: list[str] = []
    for raw in [*phrases, *commands, *(DIGIT_WORDS if digits else ())]:
        phrase = " ".join(raw.split())
        if phrase and phrase not in words:
            words.append(phrase)
    words.append(UNKNOWN)
    return words


def grammar_json(words: Sequence[str]) -> str:
    """The grammar as Vosk reads it: UTF-8 words, never `\\uXXXX` escapes (Vosk would drop them)."""
    return json.dumps(list(words), ensure_ascii=False)


def _compact(text: str) -> str:
    return "".join(text.split())


def match_phrase(text: str, phrases: Sequence[str]) -> str | None:
    """What the recognised `text` means: one of `phrases` (spaces ignored), digits, or None."""
    compact = _compact(text.replace(UNKNOWN, " "))
    if not compact or UNKNOWN in text:
        return None
    for phrase in phrases:
        if _compact(phrase) == compact:
            return phrase
    return parse_spoken_digits(text)


# --------------------------------------------------------------------------------------------- model and decoder


@lru_cache(maxsize=2)
def load_model(path: str) -> Any:
    """Load (once per process) the Vosk model in folder `path`."""
    import vosk

    vosk.SetLogLevel(-1)
    return vosk.Model(path)


def is_model_dir(path: Path) -> bool:
    return path.is_dir() and (path / "am").is_dir() and (path / "conf").is_dir()


def supports_dictation(path: Path) -> bool:
    """Whether the model in folder `path` recognises free speech: it carries a language model, either a big
    model's static graph (HCLG.fst) or a small model's grammar graph (Gr.fst). A model built for grammars alone
    (HCLr.fst without either) recognises only the phrases it is given."""
    return any((path / name).is_file() for name in ("graph/HCLG.fst", "graph/Gr.fst", "HCLG.fst", "Gr.fst"))


_BETWEEN_CJK = re.compile(r"(?<=[\u3400-\u9fff]) +(?=[\u3400-\u9fff])")


def tidy_dictation(text: str, limit: int) -> str:
    """Recognised free speech as a resident would write it: Vosk's spaces between Chinese words dropped, runs of
    space made one, at most `limit` characters."""
    return _BETWEEN_CJK.sub("", " ".join(text.replace(UNKNOWN, " ").split()))[:limit]


class Decoder:
    """One Kaldi recogniser; feed 16 kHz mono 16-bit PCM, get recognised text. Grammar-restricted, or free speech
    when `grammar` is None (dictation)."""

    def __init__(self, model: Any, grammar: Sequence[str] | None, sample_rate: int = SAMPLE_RATE) -> None:
        import vosk

        if grammar is None:
            self.recognizer = vosk.KaldiRecognizer(model, sample_rate)
        else:
            self.recognizer = vosk.KaldiRecognizer(model, sample_rate, grammar_json(grammar))

    def accept(self, pcm: bytes) -> str | None:
        """Feed audio; the text of an utterance when Vosk detected its end, else None."""
        if self.recognizer.AcceptWaveform(pcm):
            return str(json.loads(self.recognizer.Result()).get("text", ""))
        return None

    def finish(self) -> str:
        """End of audio: the text of whatever was said since the last result."""
        return str(json.loads(self.recognizer.FinalResult()).get("text", ""))


def decode_wav(
    path: Path | str,
    phrases: Sequence[str],
    *,
    model: Any = None,
    model_path: str = "",
    commands: Sequence[str] = GLOBAL_COMMANDS,
    digits: bool = True,
) -> str | None:
    """Recognise a 16 kHz mono WAV against the grammar for `phrases`: the matched phrase, digits, or None."""
    if model is None:
        model = load_model(model_path)
    grammar = build_grammar(phrases, commands=commands, digits=digits)
    decoder = Decoder(model, grammar)
    texts = []
    source = WavFileSource(Path(path))
    try:
        while chunk := source.read(_CHUNK_FRAMES):
            text = decoder.accept(chunk)
            if text:
                texts.append(text)
    finally:
        source.close()
    texts.append(decoder.finish())
    return match_phrase(" ".join(t for t in texts if t), [p for p in grammar if p != UNKNOWN])


# --------------------------------------------------------------------------------------------- microphones


class AudioSource(Protocol):
    """16 kHz mono 16-bit PCM from a microphone (or a stand-in for one)."""

    def read(self, frames: int) -> bytes:
        """Up to `frames` frames; b"" when the source has ended or was closed."""

    def close(self) -> None:
        """Stop capturing (unblocks a pending read)."""


class WavFileSource:
    """The microphone stood in for by a 16 kHz mono 16-bit WAV; `realtime` paces reads like a live microphone."""

    def __init__(self, path: Path, *, realtime: bool = False) -> None:
        self._wav = wave.open(str(path), "rb")
        if (self._wav.getframerate(), self._wav.getnchannels(), self._wav.getsampwidth()) != (
            SAMPLE_RATE,
            1,
            2,
        ):
            self._wav.close()
            raise ValueError("expected a 16 kHz mono 16-bit WAV")
        self._realtime = realtime
        self._started = time.monotonic()
        self._frames = 0
        self._closed = False

    def read(self, frames: int) -> bytes:
        if self._closed:
            return b""
        data = self._wav.readframes(frames)
        self._frames += len(data) // 2
        if self._realtime:
            delay = self._started + self._frames / SAMPLE_RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        return data

    def close(self) -> None:
        self._closed = True
        self._wav.close()


class CommandSource:
    """A recorder subprocess writing raw PCM to stdout (arecord, or sox's rec)."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.process = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )

    def read(self, frames: int) -> bytes:
        out = self.process.stdout
        return out.read(frames * 2) if out is not None else b""

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(1)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class SoundDeviceSource:
    """PortAudio capture through the `sounddevice` package (Windows kiosks)."""

    def __init__(self) -> None:
        import sounddevice  # type: ignore[import-not-found,unused-ignore]

        self._stream = sounddevice.RawInputStream(samplerate=SAMPLE_RATE, channels=1, dtype="int16")
        self._stream.start()
        self._closed = False

    def read(self, frames: int) -> bytes:
        if self._closed:
            return b""
        data, _overflowed = self._stream.read(frames)
        return bytes(data)

    def close(self) -> None:
        self._closed = True
        self._stream.stop()
        self._stream.close()


def microphone_factory() -> Callable[[], AudioSource] | None:
    """How to open the microphone on this machine (CUNZHAN_MIC_WAV=<file> stands in a WAV), or None."""
    wav = os.environ.get("CUNZHAN_MIC_WAV")
    if wav:
        return lambda: WavFileSource(Path(wav), realtime=True)
    if shutil.which("arecord"):
        return lambda: CommandSource(
            ["arecord", "-q", "-t", "raw", "-f", "S16_LE", "-c", "1", "-r", str(SAMPLE_RATE)]
        )
    if shutil.which("rec"):
        return lambda: CommandSource(
            [
                "rec",
                "-q",
                "-t",
                "raw",
                "-r",
                str(SAMPLE_RATE),
                "-c",
                "1",
                "-b",
                "16",
                "-e",
                "signed-integer",
                "-",
            ]
        )
    try:
        import sounddevice  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except (ImportError, OSError):
        return None
    return SoundDeviceSource


# --------------------------------------------------------------------------------------------- VoiceIn


Dispatch = Callable[[Callable[[], None]], None]


def qt_main_thread_dispatch() -> Dispatch | None:
    """When a Qt application exists: a function that runs a callable on Qt's main thread (queued), else None.

    `VoiceIn.on_command` is promised on the main thread; recognition runs on a worker thread, so results are
    marshalled through a queued signal to an object living in the application's thread.
    """
    if "PySide6.QtCore" not in sys.modules:
        return None  # the UI has not loaded Qt: nothing to marshal to
    from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot

    app = QCoreApplication.instance()
    if app is None:
        return None

    class _Caller(QObject):
        call = Signal(object)

        def __init__(self) -> None:
            super().__init__()
            self.call.connect(self._run, Qt.ConnectionType.QueuedConnection)

        @Slot(object)
        def _run(self, fn: Callable[[], None]) -> None:
            fn()

    caller = _Caller()
    caller.moveToThread(app.thread())
    caller.setParent(app)  # lives as long as the application

    def dispatch(fn: Callable[[], None]) -> None:
        caller.call.emit(fn)

    return dispatch


class VoiceCommands:
    """VoiceIn through Vosk. The model loads in the background; `start()` listens until `stop()` or silence ends."""

    def __init__(
        self,
        model_path: str,
        source_factory: Callable[[], AudioSource],
        *,
        commands: Sequence[str] = GLOBAL_COMMANDS,
        digits: bool = True,
        model: Any = None,
        main_thread: bool = True,
        dictation: bool | None = None,
    ) -> None:
        """`main_thread=False` calls `on_command` on the decoding thread even when a Qt application exists.
        `dictation`: whether free speech can be recognised (default: what the model in `model_path` supports)."""
        self.available = True
        self.problem = ""
        self.dictation = supports_dictation(Path(model_path)) if dictation is None else dictation
        self.on_command: Callable[[str], None] | None = None
        self.last_text = (
            ""  # what Vosk heard last (for staff diagnostics; never contains more than the grammar)
        )
        self._commands = tuple(commands)
        self._digits = digits
        self._source_factory = source_factory
        self._phrases: list[str] = []
        self._grammar = build_grammar([], commands=self._commands, digits=digits)
        self._grammar_version = 0
        self._dispatch: Dispatch | None = None
        self._main_thread = main_thread
        self._model = model
        self._loaded = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        if model is not None:
            self._loaded.set()
        else:
            threading.Thread(target=self._load, args=(model_path,), name="vosk-load", daemon=True).start()

    def _load(self, model_path: str) -> None:
        try:
            self._model = load_model(model_path)
        except Exception:
            self.available = False
            self.problem = _(
                N_(
                    "The voice model on this kiosk could not be loaded. Please use the buttons, "
                    "or ask the staff for help."
                )
            )
        finally:
            self._loaded.set()

    def wait_loaded(self, timeout: float = 60.0) -> bool:
        """Wait for the model (benches, tests); True when voice is usable."""
        return self._loaded.wait(timeout) and self.available

    def set_grammar(self, phrases: Sequence[str]) -> None:
        """The current screen's choices; the global commands and digits are always added."""
        self._phrases = [p for p in phrases if p.strip()]
        self._grammar = build_grammar(self._phrases, commands=self._commands, digits=self._digits)
        self._grammar_version += 1

    @property
    def grammar(self) -> list[str]:
        return list(self._grammar)

    def start(self) -> None:
        """Start listening (push-to-talk pressed, or between prompts in blind mode)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if self._dispatch is None and self._main_thread:
                self._dispatch = qt_main_thread_dispatch()  # start() is called from the UI thread
            self._stop.clear()
            self._thread = threading.Thread(target=self._listen, name="voice", daemon=True)
            self._thread.start()

    def dictate(self, on_text: Callable[[str], None]) -> None:
        """Listen for one utterance of free speech (listening for commands stops first): `on_text` gets what was
        recognised ("" when nothing was) once, when the speaker pauses, on `stop()` or at the end of the audio; on
        the Qt main thread like `on_command`. Does nothing without `dictation`."""
        if not self.dictation or not self.available:
            return
        self.stop()
        with self._lock:
            if self._dispatch is None and self._main_thread:
                self._dispatch = qt_main_thread_dispatch()
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._dictate, args=(on_text,), name="dictation", daemon=True
            )
            self._thread.start()

    def _dictate(self, on_text: Callable[[str], None]) -> None:
        heard = ""
        try:
            if not self._loaded.wait(120) or not self.available or self._model is None:
                return
            try:
                source = self._source_factory()
            except (OSError, ValueError, RuntimeError):
                self.problem = _(
                    N_("The microphone is not working. Please use the buttons, or ask the staff.")
                )
                return
            decoder = Decoder(self._model, None)
            try:
                for _chunk in range(DICTATION_SECONDS * SAMPLE_RATE // _CHUNK_FRAMES):
                    if self._stop.is_set() or heard:
                        break
                    chunk = source.read(_CHUNK_FRAMES)
                    if not chunk:
                        break
                    heard = decoder.accept(chunk) or ""  # text once the speaker pauses after saying something
                heard = heard or decoder.finish()
            finally:
                source.close()
        finally:
            said = heard
            if self._dispatch is not None:
                self._dispatch(lambda: on_text(said))
            else:
                on_text(said)

    def stop(self) -> None:
        """Stop listening; whatever was said before is still decoded and delivered."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def is_listening(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _listen(self) -> None:
        if not self._loaded.wait(120) or not self.available or self._model is None:
            return
        try:
            source = self._source_factory()
        except (OSError, ValueError, RuntimeError):
            self.problem = _(N_("The microphone is not working. Please use the buttons, or ask the staff."))
            return
        version = self._grammar_version
        decoder = Decoder(self._model, self._grammar)
        grammar = [p for p in self._grammar if p != UNKNOWN]
        try:
            while not self._stop.is_set():
                chunk = source.read(_CHUNK_FRAMES)
                if not chunk:
                    break
                if version != self._grammar_version:  # the screen changed while listening (blind mode)
                    version = self._grammar_version
                    current = list(self._grammar)
                    # A fresh recogniser: Vosk's SetGrammar on one that has taken audio ends the process
                    # (KaldiFatalError "Can't add speaker model to already running recognizer").
                    decoder = Decoder(self._model, current)
                    grammar = [p for p in current if p != UNKNOWN]
                text = decoder.accept(chunk)
                if text is not None:
                    self._deliver(text, grammar)
            self._deliver(decoder.finish(), grammar)
        finally:
            source.close()

    def _deliver(self, text: str, grammar: Sequence[str]) -> None:
        self.last_text = text
        meaning = match_phrase(text, grammar)
        callback = self.on_command
        if meaning is None or callback is None:
            return
        if self._dispatch is not None:
            self._dispatch(lambda: callback(meaning))
        else:
            callback(meaning)


def make_voice_commands(*, settings: Settings | None = None) -> VoiceIn:
    """VoiceCommands when voice is on, Vosk and a model are installed and a microphone can be opened; otherwise
    NoVoice with the reason in the UI language (the voice control shows it)."""
    settings = settings or Settings()
    if not settings.get(s.VOICE_ENABLED):
        return NoVoice(_(N_("Voice commands are turned off on this kiosk. Please use the buttons.")))
    try:
        import vosk  # noqa: F401
    except ImportError:
        return NoVoice(_(N_("Voice commands are not installed on this kiosk. Please use the buttons.")))
    path = str(settings.get(s.VOICE_MODEL_PATH) or "")
    if not path:
        return NoVoice(
            _(N_("This kiosk has no voice model, so voice commands are off. Please use the buttons."))
        )
    if not is_model_dir(Path(path)):
        return NoVoice(
            _(
                N_(
                    "The voice model on this kiosk is missing or damaged, so voice commands are off. "
                    "Please use the buttons, or ask the staff for help."
                )
            )
        )
    factory = microphone_factory()
    if factory is None:
        return NoVoice(
            _(N_("This kiosk has no microphone, so voice commands are off. Please use the buttons."))
        )
    return VoiceCommands(path, factory)
