"""A spoken comment with a rating (#18): 「说一句意见」 listens with real Vosk (free speech; the Korean model of the
tests and espeak-ng speech standing in for the resident), shows what was recognised large, reads it back only
through private audio, and one touch (or key) keeps it — sent with the rating, sealed in the store, never logged —
or drops it. Words that arrive after the resident walked away go nowhere; a kiosk whose model cannot take free
speech offers no comment."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from kiosk.accessibility.voice import VoiceCommands, WavFileSource, load_model
from tests.ui.conftest import valid_id
from tests.ui.helpers import press, shown_text, touch
from tests.ui.test_rate_invite import _attended, _identify
from tests.unit.test_voice import ko_model_dir, speak_korean


@pytest.fixture(scope="module")
def said(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """「의사 선생님이 친절했어요」 (the doctor was kind) and a pause, as the microphone would deliver it."""
    folder = tmp_path_factory.mktemp("comment")
    spoken = speak_korean("의사 선생님이 친절했어요", folder, "comment")
    wav = folder / "said.wav"
    subprocess.run(["sox", str(spoken), str(wav), "pad", "0", "2"], check=True)
    return wav


def _with_voice(kiosk: Any, wav: Path, *, realtime: bool = False) -> VoiceCommands:
    model_dir = str(ko_model_dir())
    voice = VoiceCommands(
        model_dir, lambda: WavFileSource(wav, realtime=realtime), model=load_model(model_dir)
    )
    kiosk.voice_routing.use(voice)
    return voice


def _to_invite(kiosk: Any, store: Any, number: str) -> str:
    kiosk.show_screen("day")  # the demo's sessions, for the booking made below
    kiosk.go_home()
    booking_id = _attended(kiosk, store, number)
    _identify(kiosk, number)
    assert kiosk.current.name == "rate_invite"
    return booking_id


def test_a_spoken_comment_is_shown_read_back_privately_kept_and_sent(
    make_kiosk: Any, demo_store: Any, said: Path, qtbot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    kiosk = make_kiosk("elder")  # speaks every screen
    _with_voice(kiosk, said)
    booking_id = _to_invite(kiosk, demo_store, valid_id("33010219480307141"))
    touch(kiosk, "choice_say_comment")
    assert kiosk.current.name == "comment"
    touch(kiosk, "choice_comment_start")
    qtbot.waitUntil(lambda: bool(kiosk.ctx.visit.comment_heard or kiosk.current.message), timeout=30000)
    heard = kiosk.ctx.visit.comment_heard
    assert heard and len(heard) <= 200, kiosk.current.message
    assert shown_text(kiosk, "comment_heard") == heard  # shown large
    speech = kiosk.ctx.speech
    clear, masked = speech.private[-1]
    assert heard in clear and heard not in masked  # in clear only through private audio
    assert all(heard not in text for text in speech.said)  # the loudspeaker says it is on the screen
    touch(kiosk, "choice_comment_keep")
    assert kiosk.current.name == "rate_invite" and heard in shown_text(kiosk, "comment_kept")
    touch(kiosk, "face_5")  # the one tap sends the rating with the comment
    assert kiosk.current.name == "booking_list"
    [op] = [o for o in demo_store.pending_ops() if o["entity"] == "feedback"]
    assert op["payload"] == {"booking_id": booking_id, "rating": 5, "reasons": [], "comment": heard}
    stored = demo_store.query("SELECT comment_enc FROM feedback")[0]["comment_enc"]
    assert stored and heard not in stored  # sealed at rest
    assert kiosk.ctx.visit.comment == ""
    assert heard not in caplog.text and kiosk.ctx.voice.last_text != heard  # never logged or kept


def test_a_comment_dropped_is_not_sent_and_keys_do_it_in_blind_mode(
    make_kiosk: Any, demo_store: Any, said: Path, qtbot: Any
) -> None:
    kiosk = make_kiosk("blind")
    _with_voice(kiosk, said)
    _to_invite(kiosk, demo_store, valid_id("33010219480307168"))
    kiosk.show_screen("comment")  # 说一句意见, reached with the arrows and Enter on the invitation
    press(kiosk, Qt.Key.Key_1)  # 1: start speaking
    qtbot.waitUntil(lambda: bool(kiosk.ctx.visit.comment_heard or kiosk.current.message), timeout=30000)
    assert kiosk.ctx.visit.comment_heard, kiosk.current.message
    assert [c.key for c in kiosk.current.visible_choices()] == [
        "comment_keep",
        "comment_again",
        "comment_drop",
    ]
    press(kiosk, Qt.Key.Key_3)  # 3: do not send it
    assert kiosk.current.name == "rate_invite"
    assert kiosk.ctx.visit.comment == "" and kiosk.ctx.visit.comment_heard == ""
    press(kiosk, Qt.Key.Key_5)
    [op] = [o for o in demo_store.pending_ops() if o["entity"] == "feedback"]
    assert op["payload"]["comment"] is None


def test_words_heard_after_the_visit_ended_go_nowhere(
    make_kiosk: Any, demo_store: Any, said: Path, tmp_path: Path
) -> None:
    long = tmp_path / "long.wav"  # the resident starts, then walks away: ten seconds of room noise follow
    subprocess.run(["sox", str(said), str(long), "pad", "0", "10"], check=True)
    kiosk = make_kiosk("standard")
    voice = _with_voice(kiosk, long, realtime=True)
    _to_invite(kiosk, demo_store, valid_id("33010219480307184"))
    touch(kiosk, "choice_say_comment")
    touch(kiosk, "choice_comment_start")
    assert voice.is_listening()
    kiosk.end_visit()  # the idle timeout, 首页: the screen stops listening as it goes
    assert not voice.is_listening()
    from PySide6.QtCore import QCoreApplication

    QCoreApplication.processEvents()  # the recogniser's last words, queued to the main thread, arrive now
    assert kiosk.current.name == "home"
    assert not kiosk.ctx.visit.has_personal() and kiosk.ctx.visit.comment_heard == ""
    assert kiosk.screen_named("comment").listening is False


def test_no_comment_where_the_model_cannot_take_free_speech(make_kiosk: Any, demo_store: Any) -> None:
    kiosk = make_kiosk("standard")  # NoVoice: no model on this kiosk
    _to_invite(kiosk, demo_store, valid_id("33010219480307192"))
    assert "say_comment" not in [c.key for c in kiosk.current.visible_choices()]
    touch(kiosk, "face_5")
    [op] = [o for o in demo_store.pending_ops() if o["entity"] == "feedback"]
    assert op["payload"]["comment"] is None
