"""TwiML documents: Twilio's verbs, defaults and request parameters (the differences docs/inboundxml.md lists)."""

import pytest

from tests.formats.inboundxml.ixml import compile_xml, doc, events, one_error, run_xml

A = "https://app.example.com"


def twiml(xml: str, scenario: dict | None = None):
    return run_xml(xml, scenario, dialect="twiml")


def test_twiml_answers_before_the_first_verb():
    t = twiml(f"<Response><Redirect>{A}/next</Redirect></Response>", {"http": {"*": doc("<Response/>")}})
    assert t.ops()[:2] == ["answer", "http"]


def test_twiml_reject_first_does_not_answer():
    t = twiml('<Response><Reject reason="busy"/></Response>')
    assert t.ops() == ["reject", "end"]


def test_twiml_hangup_first_answers_then_hangs_up():
    assert twiml("<Response><Hangup/></Response>").ops() == ["answer", "hangup", "end"]


def test_twiml_answer_on_bridge_leaves_the_call_unanswered_until_the_bridge():
    t = twiml('<Response><Dial answerOnBridge="true">+15551112222</Dial></Response>', {"dial": {"*": "answer"}})
    assert t.ops()[:3] == ["dial", "answer", "bridge"]
    t = twiml("<Response><Dial>+15551112222</Dial></Response>", {"dial": {"*": "answer"}})
    assert t.ops()[:3] == ["answer", "dial", "bridge"]


def test_twiml_request_parameters():
    t = twiml(f'<Response><Gather action="{A}/g" numDigits="1"/></Response>',
              {"caller": ["4"], "call": {"variables": {"AccountSid": "AC9"}}, "http": {"*": doc("<Response/>")}})
    assert events(t, "http")[0]["params"] == {
        "CallSid": "00000000-0000-4000-8000-000000000001", "AccountSid": "AC9", "From": "+15550000001",
        "To": "+15550000002", "CallStatus": "in-progress", "ApiVersion": "2010-04-01", "Direction": "inbound",
        "Digits": "4"}


def test_twiml_dial_timeout_defaults_to_30():
    assert compile_xml("<Response><Dial>+15551112222</Dial></Response>", dialect="twiml").states["1-dial"].op.timeout == 30


def test_twiml_say_ssml_without_type_and_no_default_voice():
    t = twiml('<Response><Say voice="Polly.Joanna">Hi <emphasis>there</emphasis></Say></Response>')
    (say,) = events(t, "say")
    assert (say["voice"], say["ssml"], say["text"]) == ("Polly.Joanna", True, "Hi <emphasis>there</emphasis>")
    (say,) = events(twiml("<Response><Say>Hi</Say></Response>"), "say")
    assert "voice" not in say


def test_twiml_play_digits_sends_tones():
    t = twiml('<Response><Play digits="ww1234"/></Response>')
    assert events(t, "send_dtmf")[0]["digits"] == "ww1234"
    assert one_error('<Response><Play digits="1">https://x.example/a.wav</Play></Response>', dialect="twiml").code == \
        "E_CONTENT"


def test_twiml_record_defaults_any_key_a_beep_and_trimmed():
    op = compile_xml("<Response><Record/></Response>", dialect="twiml").states["1-record"].op
    assert (op.finish_on_key, op.beep, op.trim_silence) == ("1234567890*#", True, True)
    op = compile_xml('<Response><Record trim="do-not-trim"/></Response>', dialect="twiml").states["1-record"].op
    assert op.trim_silence is False


def test_twiml_record_status_callback():
    t = twiml(f'<Response><Record action="{A}/r" recordingStatusCallback="{A}/rs"/></Response>',
              {"caller": [{"record": 3, "keys": "5"}], "http": {"*": doc("<Response/>")}})
    status, action = events(t, "http")
    assert (status["url"], status["params"]["RecordingStatus"], action["params"]["Digits"]) == \
        (f"{A}/rs", "completed", "5")


def test_twiml_gather_action_on_empty_result_and_barge_in():
    t = twiml(f'<Response><Gather action="{A}/g" actionOnEmptyResult="true" bargeIn="false"><Say>Long prompt</Say>'
              "</Gather></Response>", {"caller": [{"keys": "1", "at": 0.1}], "http": {"*": doc("<Response/>")}})
    assert events(t, "say")[0].get("interrupted") is None  # the key during the prompt was ignored
    assert events(t, "http")[0]["params"]["Digits"] == ""


def test_twiml_speech_timeout_auto_is_accepted_a_number_refused():
    compile_xml('<Response><Gather input="speech" speechTimeout="auto"/></Response>', dialect="twiml")
    assert one_error('<Response><Gather input="speech" speechTimeout="3"/></Response>', dialect="twiml").code == \
        "E_UNSUPPORTED"


def test_twiml_dial_record_and_status_callback():
    t = twiml(f'<Response><Dial record="record-from-answer" recordingStatusCallback="{A}/rs" trim="trim-silence">'
              "+15551112222</Dial></Response>", {"dial": {"*": {"status": "answer", "talk": 8}},
                                                 "http": {"*": {"status": 200}}})
    assert events(t, "record_start")[0]["leg"] == "B"
    assert events(t, "http")[0]["params"]["RecordingDuration"] == "8"


def test_twiml_dial_record_from_ringing_starts_before_the_dial():
    t = twiml('<Response><Dial record="record-from-ringing">+15551112222</Dial></Response>', {"dial": {"*": "busy"}})
    assert t.ops()[:3] == ["answer", "record_start", "dial"]


def test_twiml_client_noun():
    t = twiml("<Response><Dial><Client>alice</Client></Dial></Response>", {"dial": {"*": "busy"}})
    assert events(t, "dial")[0]["targets"] == ["client:alice"]


def test_twiml_hangup_on_star():
    t = twiml('<Response><Dial hangupOnStar="true">+15551112222</Dial><Say>back</Say></Response>',
              {"caller": [{"keys": "*", "at": 5}], "dial": {"*": {"status": "answer", "talk": 60}}})
    assert events(t, "bridge")[0]["key"] == "*"


@pytest.mark.parametrize("verb", ["<Enqueue>support</Enqueue>", "<Connect><Stream url='wss://x'/></Connect>",
                                  "<Pay/>", "<Leave/>", "<Start/>", "<Echo/>"])
def test_twiml_verbs_that_need_other_platforms_are_refused(verb):
    d = one_error(f"<Response>{verb}</Response>", dialect="twiml")
    assert d.code == "E_UNSUPPORTED" and "is not supported" in d.message


def test_ytel_only_verbs_are_unknown_in_twiml():
    d = one_error("<Response><GetSpeech grammar='https://x.example/g'/></Response>", dialect="twiml")
    assert d.code == "E_UNKNOWN_VERB"


def test_twiml_unsupported_attribute():
    d = one_error('<Response><Gather input="speech" speechModel="phone_call"/></Response>', dialect="twiml")
    assert d.code == "E_UNSUPPORTED"
