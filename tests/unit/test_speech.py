"""Speech out through the real pyttsx3 + espeak-ng, rendered to WAV and checked; only the loudspeaker is a file sink."""

from __future__ import annotations

import array
import json
import math
import subprocess
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cunzhan.i18n import use_locale
from kiosk.accessibility.phonemes import switches
from kiosk.accessibility.speech import LOG_ENV, FileSinkPlayer, Speaker, choose_voice, find_mandarin_voice
from kiosk.settings import Settings

WELCOME = "您好，欢迎来到村站。请选择您要办理的事情。"
WELCOME_PINYIN = (
    "nin2 hao3, huan1 ying2 lai2 dao4 cun1 zhan4. qing3 xuan3 ze2 nin2 yao4 ban4 li3 de5 shi4 qing2."
)
PINYIN_VOICE = "sit/cmn-latn-pinyin"
LONG = (
    "您好，欢迎来到村站。这里可以预约乡镇服务大厅的业务，可以查看和取消您的预约，"
    "也可以在预约的时间到这里签到。请选择您要办理的事情，或者说 帮助 呼叫工作人员。"
)
SHORT = "请说 是 或 否"
ID_NUMBER = "330102198001011234"  # a made-up number in the ID format
ID_MASKED = "3301**********1234"


def wav_stats(path: Path) -> tuple[float, float, float]:
    """(seconds, RMS, peak) of a 16-bit mono WAV, both as fractions of full scale (stdlib only)."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    samples = array.array("h", frames)
    if not samples:
        return 0.0, 0.0, 0.0
    rms = math.sqrt(sum(x * x for x in samples) / len(samples)) / 32768
    peak = max(abs(x) for x in samples) / 32768
    return len(samples) / rate, rms, peak


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def sink(tmp_path: Path) -> FileSinkPlayer:
    return FileSinkPlayer(tmp_path / "speaker")


@pytest.fixture
def speaker(data_home: Path, sink: FileSinkPlayer) -> Iterator[Speaker]:
    sp = Speaker(
        settings=Settings({"private_audio": "false", "speech_rate": "170", "volume": "0.8"}), player=sink
    )
    yield sp
    sp.close()


def heard(sp: Speaker, sink: FileSinkPlayer) -> Path:
    """Wait for the current prompt to be rendered and played to the end; the sink's file of what was heard."""
    assert sp.wait_idle(20), "the speech dispatcher never finished"
    assert sp.last_error == "", sp.last_error
    assert wait_until(lambda: not sink.is_playing()), "the player never finished"
    assert sink.last_output is not None
    return sink.last_output


def rendered(sp: Speaker, sink: FileSinkPlayer) -> None:
    """Wait until the current prompt is rendered and handed to the player, then silence it."""
    assert sp.wait_idle(20), "the speech dispatcher never finished"
    assert sp.last_error == "", sp.last_error
    assert sink.last_output is not None
    sp.stop()


def speech_log(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_mandarin_prompt_is_spoken_in_pinyin_by_espeak_and_heard(
    speaker: Speaker, sink: FileSinkPlayer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "speech.jsonl"
    monkeypatch.setenv(LOG_ENV, str(log))
    speaker.say(WELCOME)
    out = heard(speaker, sink)
    seconds, rms, peak = wav_stats(out)
    assert seconds > 0.3, seconds
    assert rms > 0.02 and peak > 0.2, (rms, peak)
    assert speaker.last_voice == PINYIN_VOICE, speaker.last_voice
    assert speaker.last_engine_text == WELCOME_PINYIN
    assert speech_log(log) == [{"voice": PINYIN_VOICE, "text": WELCOME_PINYIN}]

    # What the engine was handed is Mandarin throughout; the characters themselves through espeak-ng's `cmn` voice
    # (what the kiosk used before) switch to English — so this check can fail.
    assert switches(WELCOME_PINYIN) == []
    assert "en" in switches(WELCOME, "cmn")
    # The audio is what espeak-ng's own command line makes of that text with that voice.
    cli = tmp_path / "cli.wav"
    subprocess.run(
        ["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "170", "-w", str(cli), WELCOME_PINYIN], check=True
    )
    cli_s = wav_stats(cli)[0]
    assert abs(seconds - cli_s) / cli_s < 0.1, (seconds, cli_s)


def test_numbers_are_said_in_words_and_the_log_follows_the_cache(
    speaker: Speaker, sink: FileSinkPlayer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "speech.jsonl"
    monkeypatch.setenv(LOG_ENV, str(log))
    speaker.say("时间：上午 10:30，12月3日。预约号 07-0042-3。")
    heard(speaker, sink)
    said = "shi2 jian1, shang4 wu3 shi2 dian3 ban4, shi2 er4 yue4 san1 ri4. yu4 yue1 hao4 ling2 qi1, ling2 ling2 si4 er4, san1."
    assert speaker.last_engine_text == said
    speaker.repeat()  # from the session cache: the log still says exactly what is heard
    heard(speaker, sink)
    speaker.reset()
    speaker.precache(["按1，是。"])
    speaker.say("按1，是。")  # from the disk cache
    heard(speaker, sink)
    assert list(speaker.spoken) == ["按一，是。"]  # rendered once, by precache, in its spoken form
    assert speech_log(log) == [
        {"voice": PINYIN_VOICE, "text": said},
        {"voice": PINYIN_VOICE, "text": said},
        {"voice": PINYIN_VOICE, "text": "an4 yi1, shi4."},
    ]
    assert switches(said) == []


def test_english_locale_uses_an_english_voice(speaker: Speaker, sink: FileSinkPlayer) -> None:
    with use_locale("en"):
        speaker.say("Welcome. Please choose what you need.")
    out = heard(speaker, sink)
    assert wav_stats(out)[0] > 0.3
    assert "en" in speaker.last_voice and "cmn" not in speaker.last_voice


def test_elder_rate_is_slower(speaker: Speaker, sink: FileSinkPlayer) -> None:
    speaker.say(SHORT)
    normal = wav_stats(heard(speaker, sink))[0]
    speaker.configure(rate_multiplier=0.8)
    assert speaker.rate == 136
    speaker.say(SHORT)
    slow = wav_stats(heard(speaker, sink))[0]
    assert slow > normal * 1.1, (normal, slow)  # 0.8× the words per minute
    speaker.reset()
    assert speaker.rate == 170 and speaker.volume == pytest.approx(0.8)


def test_stop_silences_and_ends_the_player(speaker: Speaker, sink: FileSinkPlayer) -> None:
    speaker.say(LONG)
    assert speaker.wait_idle(20)
    assert wait_until(sink.is_playing)
    process = sink.process
    assert process is not None
    time.sleep(0.6)
    speaker.stop()
    assert process.poll() is not None, "the player process is still running after stop()"
    assert not speaker.is_playing()
    assert sink.last_output is not None
    seconds, _, _ = wav_stats(sink.last_output)
    full = wav_stats(next(iter(speaker._session.files.values())))[0]
    assert full > 8.0
    assert 0.3 < seconds < full / 2, (seconds, full)


def test_a_new_prompt_replaces_the_current_one(speaker: Speaker, sink: FileSinkPlayer) -> None:
    speaker.say(LONG)
    assert speaker.wait_idle(20)
    assert wait_until(sink.is_playing)
    first = sink.last_output
    time.sleep(0.4)
    speaker.say(SHORT)
    second = heard(speaker, sink)
    assert first is not None and first != second
    assert wav_stats(first)[0] < 3.0  # cut off, not the whole ~12 s
    assert 1.0 < wav_stats(second)[0] < 4.0


def test_repeat_says_the_last_prompt_again(speaker: Speaker, sink: FileSinkPlayer) -> None:
    speaker.say(SHORT)
    first = heard(speaker, sink)
    speaker.repeat()
    again = heard(speaker, sink)
    assert again != first
    assert abs(wav_stats(again)[0] - wav_stats(first)[0]) < 0.1
    assert list(speaker.spoken) == [SHORT]  # the repeat came from the session cache, not a second render
    speaker.reset()
    speaker.repeat()
    assert speaker.wait_idle(5)
    assert sink.count == 2  # nothing left to repeat after the session ended


def test_private_details_are_never_sent_to_the_loudspeaker(
    speaker: Speaker, sink: FileSinkPlayer, data_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "speech.jsonl"
    monkeypatch.setenv(LOG_ENV, str(log))
    captions: list[str] = []
    speaker.on_caption = captions.append
    speaker.say_private(f"您的身份证号码是 {ID_NUMBER}", ID_MASKED)
    rendered(speaker, sink)
    speaker.repeat()
    rendered(speaker, sink)
    said = " ".join(speaker.spoken) + " ".join(captions)
    assert ID_NUMBER not in said
    assert "1980" not in said and "幺九八零" not in said
    assert any("已显示在屏幕上" in text for text in speaker.spoken)
    assert "三三零幺" in " ".join(speaker.spoken)  # the visible part of the masked form is spoken
    logged = log.read_text(encoding="utf-8")
    assert "yao1 jiu3 ba1 ling2" not in logged and "1980" not in logged
    assert speech_log(log)[0]["text"] == (
        "san1 san1 ling2 yao1, yao1 er4 san1 si4, hao4 ma3 yi3 xian3 shi4 zai4 ping2 mu4 shang4"
    )


def test_a_screen_said_after_a_private_detail_keeps_its_dates_and_choices_in_words(
    speaker: Speaker, sink: FileSinkPlayer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ID read-back and the next screen are said in one breath: only the detail is read digit by digit, not
    # 12月3日, 10:00 or 按1 after it (they were read 幺二月三日, 上午幺零，零零, 按幺).
    log = tmp_path / "speech.jsonl"
    monkeypatch.setenv(LOG_ENV, str(log))
    speaker.say_private(
        f"您的身份证号码是 {ID_NUMBER}", ID_MASKED, then="请确认：12月3日 上午 10:00，按1，确认预约。"
    )
    rendered(speaker, sink)
    said = " ".join(speaker.spoken)
    assert "三三零幺" in said and ID_NUMBER not in said and "1980" not in said
    assert "十二月三日" in said and "上午十点" in said and "按一" in said, said
    assert "幺二月" not in said and "按幺" not in said
    assert speaker.last_text.endswith("确认预约。")  # 重听 repeats the masked form and the screen


def test_private_details_go_to_headphones_and_leave_no_file(
    data_home: Path, sink: FileSinkPlayer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "speech.jsonl"
    monkeypatch.setenv(LOG_ENV, str(log))
    sp = Speaker(settings=Settings({"private_audio": "true"}), player=sink)
    try:
        captions: list[str] = []
        sp.on_caption = captions.append
        sp.say_private(f"您的身份证号码是 {ID_NUMBER}", ID_MASKED)
        rendered(sp, sink)
        # Private audio exists: the clear number is spoken, digit by digit in its 6-8-4 groups.
        assert "三三零幺零二，幺九八零零幺零幺，幺二三四" in " ".join(sp.spoken)
        assert captions == [ID_MASKED]  # the screen still shows only the masked form
        assert ID_NUMBER not in sp.last_text  # 重听 does not repeat it
        assert sp.last_engine_text == ""
        sp.say(SHORT)
        rendered(sp, sink)
        # The log shows a private utterance happened, through which voice, and nothing of what it said.
        assert speech_log(log) == [
            {"voice": PINYIN_VOICE, "private": True},
            {"voice": PINYIN_VOICE, "text": "qing3 shuo1 shi4 huo4 fou3"},
        ]
        kept = [p for p in data_home.rglob("*.wav")]
        assert len(kept) == 1, kept  # the private render was deleted; only the welcome remains
        sp.reset()
        assert list(data_home.rglob("*.wav")) == []
        assert list(sp.spoken) == []
    finally:
        sp.close()


def test_precached_announcements_are_kept_on_disk(speaker: Speaker, sink: FileSinkPlayer) -> None:
    speaker.precache([SHORT])
    cached = list(speaker.cache_dir.glob("*.wav"))
    assert len(cached) == 1
    speaker.say(SHORT)
    rendered(speaker, sink)
    assert list(speaker.spoken) == [SHORT]  # rendered once, by precache
    speaker.reset()
    assert list(speaker.cache_dir.glob("*.wav")) == cached


def test_find_mandarin_voice_and_voice_choice() -> None:
    voice, problem = find_mandarin_voice()
    assert voice == PINYIN_VOICE and problem == ""
    espeak = [
        {"id": "sit/cmn", "name": "Chinese (Mandarin, latin as English)", "languages": ["cmn"]},
        {
            "id": "sit/cmn-latn-pinyin",
            "name": "Chinese (Mandarin, latin as Pinyin)",
            "languages": ["cmn-latn-pinyin"],
        },
    ]
    assert choose_voice(espeak, "zh_CN", "espeak") == "sit/cmn-latn-pinyin"
    assert choose_voice(espeak[:1], "zh_CN", "espeak") is None  # `cmn` alone is never used: it speaks English
    sapi = [
        {
            "id": r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Speech\Voices\Tokens\TTS_MS_ZH-CN_HUIHUI_11.0",
            "name": "Microsoft Huihui Desktop - Chinese (Simplified)",
            "languages": [],
        },
        {
            "id": r"HKEY_LOCAL_MACHINE\...\TTS_MS_EN-US_ZIRA_11.0",
            "name": "Microsoft Zira Desktop",
            "languages": [],
        },
    ]
    assert choose_voice(sapi, "zh_CN", "sapi5") == sapi[0]["id"]  # Huihui reads characters itself
    assert choose_voice([sapi[1]], "zh_CN", "sapi5") is None


def test_make_speech_falls_back_to_captions_when_nothing_can_play(
    data_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiosk.accessibility import CaptionOnlySpeech, make_speech

    monkeypatch.delenv("CUNZHAN_AUDIO_SINK", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no pw-play, paplay, aplay or play
    assert isinstance(make_speech(), CaptionOnlySpeech)
    monkeypatch.setenv("CUNZHAN_AUDIO_SINK", str(tmp_path / "sink"))
    sp = make_speech()
    try:
        assert isinstance(sp, Speaker)
        assert isinstance(sp.player, FileSinkPlayer)
    finally:
        sp.close()  # type: ignore[attr-defined]


def test_volume_is_applied_and_reset(speaker: Speaker, sink: FileSinkPlayer) -> None:
    speaker.say(SHORT)
    loud = wav_stats(heard(speaker, sink))[1]
    speaker.configure(rate_multiplier=1.0, volume=0.2)
    speaker.say(SHORT)
    quiet = wav_stats(heard(speaker, sink))[1]
    assert 0 < quiet < loud * 0.5, (loud, quiet)
    speaker.reset()
    assert speaker.volume == pytest.approx(0.8)


def test_speech_turned_off_still_captions(speaker: Speaker, sink: FileSinkPlayer) -> None:
    captions: list[str] = []
    speaker.on_caption = captions.append
    speaker.configure(rate_multiplier=1.0, enabled=False)
    speaker.say(SHORT)
    assert speaker.wait_idle(5)
    assert captions == [SHORT]
    assert sink.count == 0 and list(speaker.spoken) == []
    speaker.reset()  # the kiosk default (speech on) comes back at the end of the session
    speaker.say(SHORT)
    rendered(speaker, sink)
    assert sink.count == 1


def test_a_crashed_renderer_is_restarted(speaker: Speaker, sink: FileSinkPlayer) -> None:
    speaker.say(SHORT)
    rendered(speaker, sink)
    process = speaker._renderer._proc
    assert process is not None
    process.kill()
    process.wait()
    speaker.say(WELCOME)
    rendered(speaker, sink)
    assert speaker._renderer._proc is not None and speaker._renderer._proc.pid != process.pid
    assert list(speaker.spoken) == [SHORT, WELCOME]
