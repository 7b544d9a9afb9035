"""Every Channel primitive of the Asterisk channel, over a real socket to the fake Asterisk."""

from __future__ import annotations

import asyncio

import pytest

from flowengine.channels.asterisk.channel import AsteriskOptions, cause_code, media_name
from flowengine.channels.fake import CallerInput, ConferenceOutcome, DialOutcome, QueueOutcome, World
from flowengine.errors import ChannelError
from flowengine.runtime.channel import (
    HANGUP,
    OK,
    CollectRequest,
    ConferenceRequest,
    DialRequest,
    Prompt,
    QueueRequest,
    RecordRequest,
    SpeechRequest,
)

from .support import drive, run

SAY = Prompt("say", "Press 1 for sales")  # 17 characters: 1.133 s on the fake switch


def keys(text: str, at: float | None = None) -> CallerInput:
    return CallerInput("keys", keys=text, at=at)


# -- call control ----------------------------------------------------------------------------------------


@run
async def test_answer_then_hangup_with_cause_closes_the_socket():
    async def body(channel):
        answered = await channel.answer("A")
        await channel.hangup("A", "busy")
        return answered

    result, record, channel = await drive(body)
    assert result.outcome == OK
    assert record.commands == ["ANSWER", "EXEC Hangup 17"]
    assert record.cause == 17 and record.hung_up_by == "flow"
    assert record.closed_by_server and not record.held


@run
async def test_hangup_after_the_caller_left_sends_nothing():
    async def body(channel):
        first = await channel.play("A", Prompt("play", "hello-world"))
        await channel.hangup("A", None)
        return first

    result, record, _ = await drive(body, hangup_at=1.0)
    assert result.outcome == HANGUP and result.hangup_leg == "A"
    assert record.commands == ['STREAM FILE hello-world ""']
    assert record.closed_by_server


@pytest.mark.parametrize("reason,app,cause", [("busy", "Busy", 17), ("rejected", "Congestion", 34)])
def test_reject_before_answer(reason, app, cause):
    @run
    async def case():
        result, record, _ = await drive(lambda channel: channel.reject("A", reason))
        assert result.outcome == OK
        assert record.commands == [f"EXEC {app} 1"] and record.cause == cause and record.closed_by_server
    case()


@run
async def test_ringing():
    result, record, _ = await drive(lambda channel: channel.ringing("A"))
    assert result.outcome == OK and record.commands == ["EXEC Ringing"]


def test_cause_code_names_and_numbers():
    assert cause_code(None) == 16 and cause_code("busy") == 17 and cause_code("NORMAL_CLEARING") == 16
    assert cause_code(21) == 21 and cause_code("34") == 34 and cause_code(999) == 16


# -- media -----------------------------------------------------------------------------------------------


@run
async def test_play_prompts_of_every_kind():
    async def body(channel):
        results = [await channel.play("A", p) for p in (
            Prompt("say", "Hello there", voice="en-gb"), Prompt("play", "https://cdn.example.com/a.wav"),
            Prompt("play", "file:///var/lib/asterisk/sounds/custom/menu.gsm"), Prompt("silence", seconds=1.5),
            Prompt("say_digits", "12#"))]
        return results

    results, record, channel = await drive(body)
    assert all(r.outcome == OK for r in results)
    assert record.commands[0].startswith("STREAM FILE flowengine-tts/")
    assert record.commands[1:] == ['STREAM FILE https://cdn.example.com/a.wav ""',
                                   'STREAM FILE /var/lib/asterisk/sounds/custom/menu ""',
                                   "EXEC Wait 1.5", 'SAY DIGITS 12# ""']
    assert channel.tts.requests == [("Hello there", "en-gb", None, None)]


def test_media_name():
    assert media_name("https://x/y.wav") == "https://x/y.wav"
    assert media_name("beep") == "beep" and media_name("custom/welcome.wav") == "custom/welcome"
    with pytest.raises(ChannelError, match="tone_stream"):
        media_name("tone_stream://%(100,100,350)")


@run
async def test_missing_sound_file_is_an_error_not_a_hangup():
    from flowengine.testing.fake_asterisk import FakeAsterisk

    fake = FakeAsterisk(time_scale=0.001, missing_media={"nope"})

    async def body(channel):
        with pytest.raises(ChannelError, match="could not play nope"):
            await channel.play("A", Prompt("play", "nope"))
        return await channel.play("A", Prompt("play", "beep"))

    result, record, _ = await drive(body, fake=fake)
    assert result.outcome == OK and record.commands == ['STREAM FILE nope ""', 'STREAM FILE beep ""']


@run
async def test_send_dtmf():
    result, record, _ = await drive(lambda channel: channel.send_dtmf("A", "12w#"))
    assert result.outcome == OK and record.commands == ["EXEC SendDTMF 12w#"]


@run
async def test_text_from_flows_cannot_inject_commands():
    async def body(channel):
        return await channel.play("A", Prompt("play", "bad\nHANGUP"))

    result, record, _ = await drive(body)
    assert record.commands == ['STREAM FILE "bad HANGUP" ""']


# -- collect ---------------------------------------------------------------------------------------------


def collect(**fields) -> CollectRequest:
    return CollectRequest(**{"prompts": (SAY,), "max_digits": 4, "timeout": 5.0, "inter_digit_timeout": 5.0,
                             **fields})


@run
async def test_collect_with_get_data_and_finish_key():
    result, record, _ = await drive(lambda channel: channel.collect("A", collect()), caller=[keys("1234#")])
    assert (result.digits, result.reason) == ("1234", "max_digits")
    assert record.commands[0] == "SET VARIABLE FLOWENGINE_INPUT collect-1/1"
    assert record.commands[1].endswith(" 0123456789*#")
    assert record.commands[2] == 'GET DATA "" 5000 4'
    assert [o.interrupted for o in result.prompts] == [False]


@run
async def test_collect_finish_key_before_max():
    result, record, _ = await drive(lambda channel: channel.collect("A", collect(max_digits=6)),
                                    caller=[keys("12#")])
    assert (result.digits, result.reason) == ("12", "finish_key")


@run
async def test_collect_timeout_without_digits():
    result, record, _ = await drive(lambda channel: channel.collect("A", collect()), caller=["timeout"])
    assert (result.digits, result.reason, result.outcome) == ("", "timeout", OK)


@run
async def test_collect_inter_digit_timeout_after_some_digits():
    result, _, _ = await drive(lambda channel: channel.collect("A", collect()), caller=[keys("12")])
    assert (result.digits, result.reason) == ("12", "timeout")


@run
async def test_collect_barge_in_cuts_the_prompt():
    request = collect(prompts=(SAY, Prompt("say", "or 2 for support")))
    result, record, _ = await drive(lambda channel: channel.collect("A", request), caller=[keys("2", at=0.5)])
    assert result.digits == "2" and result.reason == "timeout"  # max 4: waits the inter-digit timeout
    assert [(o.index, o.interrupted) for o in result.prompts] == [(0, True)]
    assert len([c for c in record.commands if c.startswith("STREAM FILE")]) == 1


@run
async def test_collect_without_barge_in_ignores_keys_during_prompts():
    request = collect(barge_in=False, max_digits=1)
    result, record, _ = await drive(lambda channel: channel.collect("A", request), caller=[keys("2", at=0.5)])
    assert (result.digits, result.reason) == ("", "timeout")
    assert record.commands[1].endswith(' ""')


@run
async def test_collect_other_finish_key_uses_wait_for_digit():
    request = collect(finish_on_key="*", max_digits=None, inter_digit_timeout=2.0)
    result, record, _ = await drive(lambda channel: channel.collect("A", request), caller=[keys("45*")])
    assert (result.digits, result.reason) == ("45", "finish_key")
    assert [c for c in record.commands if c.startswith("WAIT FOR DIGIT")] == [
        "WAIT FOR DIGIT 5000", "WAIT FOR DIGIT 2000", "WAIT FOR DIGIT 2000"]


@run
async def test_collect_early_match_stops_on_a_unique_choice():
    request = collect(max_digits=3, choices=("1", "20", "21"), early_match=True)
    result, _, _ = await drive(lambda channel: channel.collect("A", request), caller=[keys("1")])
    assert (result.digits, result.reason) == ("1", "match")


@run
async def test_collect_caller_hangs_up_when_asked():
    result, record, _ = await drive(lambda channel: channel.collect("A", collect()), caller=["hangup"])
    assert result.outcome == HANGUP and result.reason == "hangup" and result.prompts == []
    assert record.closed_by_server


@run
async def test_collect_caller_hangs_up_mid_prompt():
    result, record, _ = await drive(lambda channel: channel.collect("A", collect()), caller=["timeout"],
                                    hangup_at=0.7)
    assert result.outcome == HANGUP and [o.interrupted for o in result.prompts] == [True]
    assert record.closed_by_server and not record.held


@run
async def test_collect_caller_hangs_up_while_listening_like_the_capture():
    """asterisk-agi-flow-caller-hangup: GET DATA answers -1, HANGUP follows."""
    result, record, _ = await drive(lambda channel: channel.collect("A", collect(prompts=())), caller=["timeout"],
                                    hangup_at=2.0)
    assert result.outcome == HANGUP
    assert ("<<", "200 result=-1") in record.lines and ("<<", "HANGUP") in record.lines


@run
async def test_speech_is_refused():
    async def body(channel):
        with pytest.raises(ChannelError, match="speech"):
            await channel.speech("A", SpeechRequest())
    await drive(body)


# -- record ------------------------------------------------------------------------------------------------


OPTIONS = AsteriskOptions(recordings_dir="/rec", recording_url="https://rec.example/{name}")


@pytest.mark.parametrize("entry,reason,duration", [
    (CallerInput("record", keys="#", talk=7), "finish_key", 7.0),
    (CallerInput("record", talk=7), "silence", 7.0),
    (CallerInput("record", talk=90), "max_length", 60.0),
])
def test_record(entry, reason, duration):
    @run
    async def case():
        request = RecordRequest(max_length=60, finish_on_key="#", beep=True, silence_timeout=5)
        result, record, _ = await drive(lambda channel: channel.record("A", request), caller=[entry],
                                        options=OPTIONS)
        assert (result.reason, result.duration, result.url) == (reason, duration, "https://rec.example/rec_001.wav")
        assert record.commands[1] == 'RECORD FILE /rec/rec_001 wav # 60000 0 BEEP s=5'
    case()


@run
async def test_record_hangup():
    request = RecordRequest(max_length=60)
    result, _, _ = await drive(lambda channel: channel.record("A", request),
                               caller=[CallerInput("record", talk=20)], hangup_at=3.0, options=OPTIONS)
    assert result.outcome == HANGUP and result.reason == "hangup" and 2.0 < result.duration <= 3.0


@run
async def test_record_start_and_stop():
    async def body(channel):
        started = await channel.record_start("A", "both")
        caller_only = await channel.record_start("A", "caller")
        await channel.record_stop("A")
        return started, caller_only

    (started, caller_only), record, _ = await drive(body, options=OPTIONS)
    assert started.url == "https://rec.example/rec_001.wav"
    assert record.commands == ["EXEC MixMonitor /rec/rec_001.wav", "EXEC MixMonitor /rec/rec_002-mix.wav,r(/rec/rec_002.wav)",
                               "EXEC StopMixMonitor"]


# -- other parties -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status,expected", [
    (DialOutcome("answer", after=1, talk=12), "answered"),
    (DialOutcome("busy"), "busy"),
    (DialOutcome("no-answer"), "no-answer"),
    (DialOutcome("failed"), "failed"),
])
def test_dial_statuses(status, expected):
    @run
    async def case():
        async def body(channel):
            dialled = await channel.dial("A", "B", DialRequest(("+15551112222",), timeout=20, caller_id="+15550001111"))
            bridged = await channel.bridge("A", "B") if dialled.status == "answered" else None
            return dialled, bridged

        (dialled, bridged), record, _ = await drive(body, world=World(dial={"+15551112222": status}))
        assert dialled.status == expected
        assert record.commands[0] == "EXEC Dial PJSIP/+15551112222,20,gf(+15550001111)"
        if expected == "answered":
            assert dialled.answered_by == "+15551112222"
            assert (bridged.duration, bridged.ended_by, bridged.outcome, bridged.hangup_leg) == (12.0, "B", HANGUP, "B")
    case()


@run
async def test_dial_options_from_the_flow():
    async def body(channel):
        request = DialRequest(("100", "PJSIP/200"), timeout=15, time_limit=30, send_digits="1w2")
        dialled = await channel.dial("A", "B", request)
        sent = await channel.send_dtmf("B", "1w2")  # already sent by D() on answer
        return dialled, sent

    (dialled, sent), record, _ = await drive(body, world=World(dial={"*": DialOutcome("answer", talk=5)}),
                                             options=AsteriskOptions(dial_template="PJSIP/{target}@trunk"))
    assert record.commands[0] == "EXEC Dial PJSIP/100@trunk&PJSIP/200,15,gD(1w2)L(30000)"
    assert dialled.status == "answered" and sent.outcome == OK


@run
async def test_dial_caller_hangs_up_while_ringing():
    result, _, _ = await drive(lambda channel: channel.dial("A", "B", DialRequest(("1",), timeout=30)),
                               world=World(dial={"1": DialOutcome("no-answer")}), hangup_at=3)
    assert (result.status, result.outcome, result.hangup_leg) == ("canceled", HANGUP, "A")


@run
async def test_dial_caller_hangs_up_during_the_bridge():
    async def body(channel):
        dialled = await channel.dial("A", "B", DialRequest(("1",)))
        return dialled, await channel.bridge("A", "B")

    (dialled, bridged), _, _ = await drive(body, world=World(dial={"1": DialOutcome("answer", after=1, talk=30)}),
                                           hangup_at=6)
    assert dialled.status == "answered" and bridged.ended_by == "A" and bridged.outcome == HANGUP
    assert bridged.duration == pytest.approx(5.0, abs=0.01)


@run
async def test_dial_refuses_what_Dial_cannot_do():
    async def body(channel):
        for request in (DialRequest(("1",), bridge=False), DialRequest(("1",), on_answer=True)):
            with pytest.raises(ChannelError, match="needs the daemon's FastAGI listener"):
                await channel.dial("A", "B", request)  # a channel without LegSessions cannot pair leg B
        with pytest.raises(ChannelError, match="leg B"):
            await channel.play("B", SAY)
    await drive(body)


@pytest.mark.parametrize("outcome,status", [
    (QueueOutcome("answered", after=3, talk=5), "answered"),
    (QueueOutcome("timeout"), "timeout"),
    (QueueOutcome("no_agents"), "no_agents"),
])
def test_queue(outcome, status):
    @run
    async def case():
        result, record, _ = await drive(lambda channel: channel.queue("A", QueueRequest("support", max_wait=120)),
                                        world=World(queue={"support": outcome}))
        assert result.status == status and result.outcome == OK
        assert record.commands[0] == "EXEC Queue support,c,,,120"
    case()


@run
async def test_queue_caller_hangup_and_exit_key():
    result, _, _ = await drive(lambda channel: channel.queue("A", QueueRequest("sales")),
                               world=World(queue={"sales": QueueOutcome("answered/caller_hangup", talk=2)}))
    assert (result.status, result.outcome) == ("answered/caller_hangup", HANGUP)

    async def body(channel):
        with pytest.raises(ChannelError, match="exit_key"):
            await channel.queue("A", QueueRequest("sales", exit_key="9"))
    await drive(body)


@run
async def test_conference():
    request = ConferenceRequest("room-1", muted=True, beep=False, start_on_enter=False, max_participants=10)
    result, record, _ = await drive(lambda channel: channel.conference("A", request),
                                    world=World(conference={"room-1": ConferenceOutcome(talk=4)}))
    assert result.outcome == OK and result.duration > 0
    assert record.commands == [
        "SET VARIABLE CONFBRIDGE(user,startmuted) yes", "SET VARIABLE CONFBRIDGE(user,quiet) yes",
        "SET VARIABLE CONFBRIDGE(user,wait_marked) yes", "SET VARIABLE CONFBRIDGE(user,end_marked) yes",
        "SET VARIABLE CONFBRIDGE(bridge,max_members) 10", "EXEC ConfBridge room-1"]


# -- faults ------------------------------------------------------------------------------------------------


@run
async def test_cancelled_command_leaves_agi_sane():
    """A deadline cancels a long prompt: the next command waits for its reply, then runs normally."""
    async def body(channel):
        play = asyncio.ensure_future(channel.play("A", Prompt("play", "long")))
        await asyncio.sleep(0.005)
        play.cancel()
        with pytest.raises(asyncio.CancelledError):
            await play
        return await channel.play("A", Prompt("say_digits", "1"))

    from flowengine.testing.fake_asterisk import FakeAsterisk

    fake = FakeAsterisk(time_scale=0.01, media_duration=lambda name: 3.0 if name == "long" else None)
    result, record, _ = await drive(body, fake=fake)
    assert result.outcome == OK
    assert record.commands == ['STREAM FILE long ""', 'SAY DIGITS 1 ""'] and record.protocol_error is None


@run
async def test_record_format_and_refusals():
    async def body(channel):
        wide = await channel.record("A", RecordRequest(max_length=60, format="wav16"))
        for request, message in ((RecordRequest(format="mp3"), "'mp3' files is not supported"),
                                 (RecordRequest(transcribe="en-US"), "transcription is not supported")):
            with pytest.raises(ChannelError, match=message):
                await channel.record("A", request)
        started = await channel.record_start("A", "both", format="gsm", trim_silence=True)
        return wide, started

    (wide, started), record, _ = await drive(body, caller=[CallerInput("record", keys="#", talk=4)],
                                             options=OPTIONS)
    assert wide.url == "https://rec.example/rec_001.wav16" and started.url == "https://rec.example/rec_002.gsm"
    assert record.commands[1].startswith("RECORD FILE /rec/rec_001 wav16 # ")
