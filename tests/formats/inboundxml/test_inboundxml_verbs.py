"""Every InboundXML verb and attribute, run on the fake channel: the transcript says what happened."""

import pytest

from tests.formats.inboundxml.ixml import (
    DEFAULT_PARAMS,
    compile_xml,
    doc,
    events,
    one_error,
    run_xml,
    without_t,
)

A = "https://app.example.com"


def http_params(t, url):
    (event,) = [e for e in t.events if e["op"] == "http" and e["url"] == url]
    return event["params"]


# -- answering ----------------------------------------------------------------------------------------


def test_answer_is_lazy_before_the_first_media_verb():
    t = run_xml(f"<Response><Ping>{A}/ping</Ping><Say>Hi</Say></Response>", {"http": {"*": {"status": 200}}})
    assert t.ops()[:3] == ["http", "answer", "say"]


def test_reject_first_never_answers():
    t = run_xml('<Response><Reject reason="busy"/><Say>never</Say></Response>')
    assert without_t(t.events) == [{"op": "reject", "reason": "busy"}, {"op": "end", "reason": "rejected"}]


def test_reject_default_reason_is_rejected():
    t = run_xml("<Response><Reject/></Response>")
    assert events(t, "reject")[0]["reason"] == "rejected"


def test_hangup_first_never_answers():
    t = run_xml("<Response><Hangup/></Response>")
    assert t.ops() == ["hangup", "end"]


def test_hangup_reason_is_the_cause():
    t = run_xml('<Response><Say>x</Say><Hangup reason="busy"/></Response>')
    assert events(t, "hangup")[0] == {"t": 0.067, "leg": "A", "op": "hangup", "by": "flow", "cause": "busy"}


def test_answer_verb():
    t = run_xml("<Response><Answer/><Pause length='2'/></Response>")
    assert t.ops() == ["answer", "silence", "hangup", "end"]


def test_end_of_document_hangs_up():
    t = run_xml("<Response><Say>Bye</Say></Response>")
    assert without_t(t.events[-2:]) == [{"op": "hangup", "by": "flow"}, {"op": "end", "reason": "flow_end"}]


def test_empty_document_hangs_up_without_answering():
    assert run_xml("<Response/>").ops() == ["hangup", "end"]


# -- Say, Play, Pause ---------------------------------------------------------------------------------


def test_say_defaults_to_ytels_voice_and_loops():
    t = run_xml('<Response><Say loop="3">Hello</Say></Response>')
    says = events(t, "say")
    assert [(e["t"], e["text"], e["voice"]) for e in says] == [
        (0.333, "Hello", "en-us-standard-female-1"), (0.666, "Hello", "en-us-standard-female-1"),
        (0.999, "Hello", "en-us-standard-female-1")]


def test_say_loop_zero_repeats_until_the_caller_hangs_up():
    t = run_xml('<Response><Say loop="0">Hello</Say></Response>', {"hangup_at": 2})
    says = events(t, "say")
    assert len(says) == 7 and says[-1].get("interrupted") is True
    assert t.events[-2]["op"] == "hangup" and t.events[-2]["by"] == "caller"


def test_say_voice_and_language():
    t = run_xml('<Response><Say voice="fr-fr-standard-male-1" language="fr">Bonjour</Say></Response>')
    (say,) = events(t, "say")
    assert (say["voice"], say["language"]) == ("fr-fr-standard-male-1", "fr")


def test_say_ssml_children_with_type_ssml():
    t = run_xml('<Response><Say type="ssml">Wait <break time="200ms"/> <say-as interpret-as="digits">42</say-as>'
                "</Say></Response>")
    (say,) = events(t, "say")
    assert say["ssml"] is True
    assert say["text"] == 'Wait <break time="200ms"/> <say-as interpret-as="digits">42</say-as>'
    assert say["t"] == round(len("Wait  42") / 15, 3)  # tags are not spoken


def test_say_type_ssml_with_plain_text():
    (say,) = events(run_xml('<Response><Say type="SSML">Plain</Say></Response>'), "say")
    assert say["ssml"] is True


def test_ssml_children_need_type_ssml_in_inboundxml():
    assert one_error('<Response><Say>Wait <break time="1s"/></Say></Response>').code == "E_SSML"


def test_unknown_ssml_element():
    d = one_error('<Response><Say type="ssml"><brake time="1s"/>x</Say></Response>')
    assert d.code == "E_SSML" and "did you mean 'break'" in d.message


def test_say_needs_text():
    assert one_error("<Response><Say>  </Say></Response>").code == "E_CONTENT"


def test_play_loop_and_media_length():
    t = run_xml(f'<Response><Play loop="2">{A}/a.mp3</Play></Response>', {"media": {f"{A}/a.mp3": 1.5}})
    assert [(e["t"], e["url"]) for e in events(t, "play")] == [(1.5, f"{A}/a.mp3"), (3.0, f"{A}/a.mp3")]


def test_play_tone_stream():
    t = run_xml("<Response><Play>tone_stream://%(250,0,800)</Play></Response>")
    assert events(t, "play")[0]["url"] == "tone_stream://%(250,0,800)"


def test_play_relative_url_resolves_against_the_document_url():
    flow = compile_xml("<Response><Play>sounds/hi.wav</Play></Response>", name="https://app.example.com/ivr/a.xml")
    assert flow.states["1-play"].op.url == "https://app.example.com/ivr/sounds/hi.wav"


def test_play_relative_url_in_a_file_needs_a_base():
    assert one_error("<Response><Play>hi.wav</Play></Response>").code == "E_URL"
    flow = compile_xml('<?flowengine base_url="https://cdn.example.com/x/"?><Response><Play>hi.wav</Play></Response>')
    assert flow.states["1-play"].op.url == "https://cdn.example.com/x/hi.wav"


def test_play_method_get_is_accepted_post_refused():
    compile_xml(f'<Response><Play method="get">{A}/a.wav</Play></Response>')
    assert one_error(f'<Response><Play method="POST">{A}/a.wav</Play></Response>').code == "E_UNSUPPORTED"


def test_play_digits_is_not_inboundxml():
    # Twilio's <Play digits> is TwiML; in an InboundXML document it is unknown (and switches nothing).
    flow = compile_xml(f'<Response><Say type="ssml">x</Say><Play digits="1">{A}/a.wav</Play></Response>')
    assert [w["code"] for w in flow.meta["warnings"]] == ["W_UNKNOWN_ATTR"]


def test_pause_is_in_seconds_by_default():
    t = run_xml('<Response><Pause length="3"/><Pause/></Response>')
    assert [e["seconds"] for e in events(t, "silence")] == [3.0, 1.0]


def test_pause_in_milliseconds_with_the_option():
    t = run_xml('<?flowengine pause_unit="ms"?><Response><Pause length="8"/></Response>')
    assert events(t, "silence")[0]["seconds"] == 0.008


def test_pause_longer_than_a_day():
    assert one_error('<Response><Pause length="90000"/></Response>').code == "E_ATTR_VALUE"


# -- Gather ----------------------------------------------------------------------------------------------

MENU = (f'<Response><Gather action="{A}/menu" numDigits="1" timeout="4">'
        "<Say>Press 1 for sales.</Say><Play>https://cdn.example.com/beep.wav</Play></Gather>"
        "<Say>Nothing pressed.</Say></Response>")


def test_gather_posts_digits_and_the_ytel_parameters_to_its_action():
    t = run_xml(MENU, {"caller": ["1"], "http": {f"POST {A}/menu": doc("<Response><Say>Sales.</Say></Response>")}})
    assert http_params(t, f"{A}/menu") == {**DEFAULT_PARAMS, "Digits": "1"}
    assert [e["text"] for e in events(t, "say")] == ["Press 1 for sales.", "Sales."]
    assert list(http_params(t, f"{A}/menu")) == [
        "carrier", "wireless", "zipcode", "city", "AccountSid", "From", "To", "CallSid", "Digits"]


def test_gather_with_no_input_falls_through_without_a_request():
    t = run_xml(MENU, {"caller": ["timeout"]})
    assert events(t, "collect")[0]["reason"] == "timeout"
    assert events(t, "http") == []
    assert events(t, "say")[-1]["text"] == "Nothing pressed."


def test_gather_with_no_input_requests_the_action_with_the_option():
    t = run_xml('<?flowengine action_on_empty_result="true"?>' + MENU,
                {"caller": ["timeout"], "http": {"*": doc("<Response/>")}})
    assert http_params(t, f"{A}/menu")["Digits"] == ""


def test_gather_barge_in_a_key_stops_the_prompts_and_counts():
    t = run_xml(MENU, {"caller": [{"keys": "1", "at": 0.5}], "http": {"*": doc("<Response/>")}})
    says = events(t, "say")
    assert says[0] == {"t": 0.5, "leg": "A", "op": "say", "text": "Press 1 for sales.",
                       "voice": "en-us-standard-female-1", "interrupted": True}
    assert events(t, "play") == []  # the remaining prompt is skipped
    assert events(t, "collect")[0]["digits"] == "1"


def test_gather_num_digits_is_unlimited_by_default_and_finish_on_key_ends_it():
    t = run_xml(f'<Response><Gather action="{A}/pin"/></Response>',
                {"caller": ["123456#"], "http": {"*": doc("<Response/>")}})
    (collect,) = events(t, "collect")
    assert (collect["max_digits"], collect["digits"], collect["reason"], collect["finish_on_key"]) == \
        (None, "123456", "finish_key", "#")
    assert http_params(t, f"{A}/pin")["Digits"] == "123456"


def test_gather_finish_on_key_and_timeout_attributes():
    t = run_xml(f'<Response><Gather action="{A}/p" finishOnKey="*" timeout="7"/></Response>',
                {"caller": ["12*"], "http": {"*": doc("<Response/>")}})
    (collect,) = events(t, "collect")
    assert (collect["finish_on_key"], collect["timeout"], collect["digits"]) == ("*", 7.0, "12")


def test_gather_empty_finish_on_key_means_none():
    t = run_xml(f'<Response><Gather action="{A}/p" finishOnKey=""/></Response>',
                {"caller": ["12#"], "http": {"*": doc("<Response/>")}})
    assert "finish_on_key" not in events(t, "collect")[0]


def test_gather_method_get_puts_the_parameters_in_the_query():
    t = run_xml(f'<Response><Gather action="{A}/menu" method="GET" numDigits="1"/></Response>',
                {"caller": ["2"], "http": {"GET *": {"status": 404}, f"{A}/menu": doc("<Response><Say>ok</Say></Response>")}})
    (http,) = events(t, "http")
    assert (http["method"], http["params"]["Digits"]) == ("GET", "2")
    assert events(t, "say")[-1]["text"] == "ok"


def test_gather_action_defaults_to_the_current_document():
    url = f"{A}/voice.xml"
    t = run_xml("<Response><Gather numDigits='1'/></Response>", {"caller": ["5"], "http": {"*": doc("<Response/>")}},
                name=url)
    assert events(t, "http")[0]["url"] == url


def test_gather_in_a_file_without_action_starts_the_file_again():
    t = run_xml("<Response><Say>Menu</Say><Gather numDigits='1'/></Response>", {"caller": ["5", "6"]})
    assert [e["digits"] for e in events(t, "collect")] == ["5", "6", ""]
    assert events(t, "http") == []


def test_gather_nested_pause_and_several_prompts():
    t = run_xml('<Response><Gather numDigits="1"><Say>One</Say><Pause length="2"/><Say>Two</Say></Gather></Response>',
                {"caller": ["timeout"]})
    assert [e["op"] for e in t.events[:4]] == ["answer", "say", "silence", "say"]


def test_gather_speech_input_sends_speech_result_and_confidence():
    t = run_xml(f'<Response><Gather input="speech" hints="sales, support" language="en-US" action="{A}/s">'
                "<Say>Which department?</Say></Gather></Response>",
                {"caller": [{"speech": "sales", "confidence": 0.87}], "http": {"*": doc("<Response/>")}})
    (speech,) = events(t, "speech")
    assert (speech["text"], speech["hints"]) == ("sales", ["sales", "support"])
    params = http_params(t, f"{A}/s")
    assert (params["SpeechResult"], params["Confidence"]) == ("sales", "0.87")
    assert "Digits" not in params


def test_gather_speech_dtmf_accepts_keys_too():
    t = run_xml(f'<Response><Gather input="speech dtmf" action="{A}/s" numDigits="2"/></Response>',
                {"caller": ["42"], "http": {"*": doc("<Response/>")}})
    params = http_params(t, f"{A}/s")
    assert (params["Digits"], params["SpeechResult"]) == ("42", "")


def test_gather_hints_on_dtmf_input_are_ignored_with_a_warning():
    flow = compile_xml('<Response><Gather hints="a,b"/></Response>')
    assert [w["code"] for w in flow.meta["warnings"]] == ["W_IGNORED"]


def test_gather_play_last_recording_plays_only_when_there_is_one():
    xml = ('<Response><Record background="true"/><Gather numDigits="1"><PlayLastRecording/><Say>Keep it?</Say>'
           "</Gather></Response>")
    t = run_xml(xml, {"caller": ["timeout"]})
    assert [e["op"] for e in t.events[:4]] == ["answer", "record_start", "play", "say"]
    assert events(t, "play")[0]["url"] == events(t, "record_start")[0]["url"]
    t = run_xml('<Response><Gather numDigits="1"><PlayLastRecording/><Say>Keep it?</Say></Gather></Response>',
                {"caller": ["timeout"]})
    assert events(t, "play") == []


def test_play_last_recording_verb():
    t = run_xml('<Response><Record action="https://x.example/r"/><PlayLastRecording/></Response>',
                {"caller": [{"record": 3}], "http": {"*": doc("<Response><PlayLastRecording/></Response>")}})
    (record,) = events(t, "record")
    assert events(t, "play")[0]["url"] == record["url"]
    t = run_xml("<Response><PlayLastRecording/><Say>x</Say></Response>")
    assert t.ops()[:2] == ["answer", "say"]


def test_get_speech():
    t = run_xml(f'<Response><GetSpeech grammar="{A}/yesno.grxml" action="{A}/gs" playBeep="true" timeout="4">'
                "<Say>Yes or no?</Say></GetSpeech></Response>",
                {"caller": [{"speech": "yes", "confidence": 0.5}], "http": {"*": doc("<Response/>")}})
    flow = compile_xml(f'<Response><GetSpeech grammar="{A}/yesno.grxml"/></Response>')
    op = flow.states["1-getspeech"].op
    assert (op.grammar, op.beep, op.timeout) == (f"{A}/yesno.grxml", False, 5.0)
    assert http_params(t, f"{A}/gs")["SpeechResult"] == "yes"


def test_get_speech_needs_a_grammar():
    d = one_error("<Response><GetSpeech/></Response>")
    assert (d.code, d.message) == ("E_MISSING_ATTR", "<GetSpeech> needs the attribute grammar")


# -- Record ------------------------------------------------------------------------------------------------


def test_record_is_blocking_by_default_and_posts_the_recording():
    t = run_xml(f'<Response><Record action="{A}/rec" maxLength="30" timeout="3" playBeep="true"/></Response>',
                {"caller": [{"record": 7.4, "keys": "#"}], "http": {"*": doc("<Response/>")}})
    (record,) = events(t, "record")
    assert (record["max_length"], record["beep"], record["reason"], record["duration"]) == (30.0, True, "finish_key", 7.4)
    params = http_params(t, f"{A}/rec")
    assert params == {**DEFAULT_PARAMS, "RecordingUrl": record["url"], "RecordingDuration": "7", "Digits": "#"}


def test_record_defaults_ytel():
    op = compile_xml("<Response><Record/></Response>").states["1-record"].op
    assert (op.kind, op.max_length, op.silence_timeout, op.finish_on_key, op.beep, op.trim_silence) == \
        ("record", 3600.0, 5.0, "#", False, False)


def test_record_file_format_and_trim_silence():
    t = run_xml(f'<Response><Record action="{A}/r" fileFormat="MP3" trimSilence="true"/></Response>',
                {"caller": [{"record": 2}], "http": {"*": doc("<Response/>")}})
    assert events(t, "record")[0]["url"].endswith(".mp3")
    assert compile_xml('<Response><Record trimSilence="true"/></Response>').states["1-record"].op.trim_silence


def test_record_finish_on_key_minus_one_disables_keys():
    op = compile_xml('<Response><Record finishOnKey="-1"/></Response>').states["1-record"].op
    assert op.finish_on_key is None


def test_an_empty_recording_requests_nothing_and_goes_on():
    t = run_xml(f'<Response><Record action="{A}/r"/><Say>Nothing recorded.</Say></Response>',
                {"caller": [{"record": 0}]})
    assert events(t, "http") == []
    assert events(t, "say")[0]["text"] == "Nothing recorded."


def test_record_transcription_callback():
    t = run_xml(f'<Response><Record action="{A}/r" transcribeCallback="{A}/t"/></Response>',
                {"caller": [{"record": 4, "text": "please call me back"}], "http": {"*": doc("<Response/>")}})
    url = events(t, "record")[0]["url"]
    assert events(t, "record")[0]["transcription"] == "please call me back"
    assert http_params(t, f"{A}/t") == {**DEFAULT_PARAMS, "TranscriptionText": "please call me back",
                                        "TranscriptionStatus": "completed", "TranscriptionUrl": url + ".txt",
                                        "RecordingUrl": url}
    assert [e["url"] for e in events(t, "http")] == [f"{A}/t", f"{A}/r"]


def test_record_transcribe_without_text_reports_failed():
    t = run_xml(f'<Response><Record action="{A}/r" transcribe="true" transcribeCallback="{A}/t"/></Response>',
                {"caller": [{"record": 4}], "http": {"*": doc("<Response/>")}})
    assert http_params(t, f"{A}/t")["TranscriptionStatus"] == "failed"


def test_record_transcribe_quality_other_than_auto_is_refused():
    assert one_error('<Response><Record transcribeQuality="gold"/></Response>').code == "E_UNSUPPORTED"
    compile_xml('<Response><Record transcribeQuality="AUTO"/></Response>')


def test_background_record_runs_on_and_notifies_its_action_at_the_end():
    t = run_xml(f'<Response><Record background="true" action="{A}/bg" fileFormat="wav" maxLength="60"/>'
                '<Say>We are recording.</Say><Pause length="4"/></Response>', {"http": {"*": {"status": 200}}})
    assert t.ops() == ["answer", "record_start", "say", "silence", "hangup", "http", "end"]
    start = events(t, "record_start")[0]
    assert start["url"].endswith(".wav")
    assert http_params(t, f"{A}/bg") == {**DEFAULT_PARAMS, "RecordingUrl": start["url"], "RecordingDuration": "5"}


def test_background_record_with_the_ytel_default_option():
    flow = compile_xml('<?flowengine record_background="true"?><Response><Record/></Response>')
    assert flow.states["1-record"].op.kind == "record_start"
    flow = compile_xml('<?flowengine record_background="true"?><Response><Record background="false"/></Response>')
    assert flow.states["1-record"].op.kind == "record"


def test_background_record_ignores_blocking_attributes_with_a_warning():
    flow = compile_xml('<Response><Record background="true" timeout="3" playBeep="true"/></Response>')
    assert [w["code"] for w in flow.meta["warnings"]] == ["W_IGNORED", "W_IGNORED"]


def test_background_record_direction():
    ops = [compile_xml(f'<Response><Record background="true" direction="{d}"/></Response>').states["1-record"].op.legs
           for d in ("in", "out", "both")]
    assert ops == ["caller", "callee", "both"]
    assert compile_xml('<Response><Record background="true" bothLegs="true" direction="in"/></Response>') \
        .states["1-record"].op.legs == "both"


def test_blocking_record_of_the_callee_is_refused():
    assert one_error('<Response><Record direction="out"/></Response>').code == "E_UNSUPPORTED"


def test_background_transcription_is_refused():
    assert one_error('<Response><Record background="true" transcribe="true"/></Response>').code == "E_UNSUPPORTED"


# -- Redirect, Ping -----------------------------------------------------------------------------------------


def test_redirect_sends_url_base_from_a_fetched_document():
    t = run_xml("<Response><Redirect>https://x.example/a.xml</Redirect></Response>",
                {"http": {"https://x.example/a.xml": doc("<Response><Redirect method='get'>b.xml</Redirect></Response>"),
                          "https://x.example/b.xml": doc("<Response><Say>b</Say></Response>")}})
    first, second = events(t, "http")
    assert "urlBase" not in first["params"]  # a file has no URL
    assert (second["method"], second["url"], second["params"]["urlBase"]) == \
        ("GET", "https://x.example/b.xml", "https://x.example/a.xml")
    assert events(t, "say")[0]["text"] == "b"


def test_redirect_needs_a_url():
    assert one_error("<Response><Redirect/></Response>").code == "E_CONTENT"


def test_ping_requests_and_goes_on_whatever_the_answer():
    t = run_xml(f"<Response><Ping>{A}/ping</Ping><Ping method='GET'>{A}/ping2</Ping><Say>on</Say></Response>",
                {"http": {f"{A}/ping": {"status": 500}}})
    assert [(e["method"], e["status"]) for e in events(t, "http")] == [("POST", 500), ("GET", 404)]
    assert events(t, "say")[0]["text"] == "on"


# -- Sms, Mms ------------------------------------------------------------------------------------------------


def test_sms_defaults_to_the_caller_and_goes_on():
    t = run_xml("<Response><Sms>Thanks for calling</Sms><Say>Bye</Say></Response>",
                {"call": {"from": "+15551230000", "to": "+15559870000"}})
    (sms,) = events(t, "sms")
    assert (sms["to"], sms["from"], sms["body"]) == ("+15551230000", "+15559870000", "Thanks for calling")
    assert events(t, "say")[0]["text"] == "Bye"


def test_sms_action_and_status_callback():
    t = run_xml(f'<Response><Sms to="+15550001111" from="+15559870000" action="{A}/sent" statusCallback="{A}/st" '
                f'statusCallbackMethod="GET">Hi</Sms><Say>never</Say></Response>',
                {"http": {"*": doc("<Response><Say>after sms</Say></Response>")}})
    status, action = events(t, "http")
    assert (status["url"], status["method"], status["params"]["SmsSid"], status["params"]["SmsStatus"]) == \
        (f"{A}/st", "GET", "sms_001", "sent")
    assert (action["url"], action["params"]["SmsStatus"]) == (f"{A}/sent", "sent")
    assert [e["text"] for e in events(t, "say")] == ["after sms"]


def test_sms_long_body_is_a_warning():
    flow = compile_xml(f"<Response><Sms>{'x' * 161}</Sms></Response>")
    assert [w["code"] for w in flow.meta["warnings"]] == ["W_SMS_LENGTH"]


def test_mms_sends_media():
    t = run_xml('<Response><Mms mediaUrl="https://cdn.example.com/p.png">Look</Mms></Response>')
    (sms,) = events(t, "sms")
    assert (sms["body"], sms["media"]) == ("Look", ["https://cdn.example.com/p.png"])


def test_mms_needs_media():
    assert one_error("<Response><Mms>Look</Mms></Response>").code == "E_MISSING_ATTR"
