"""<Dial> with every attribute of the table, its nouns, and the Response-level <Conference>."""

from tests.formats.inboundxml.ixml import DEFAULT_PARAMS, compile_xml, doc, events, one_error, run_xml

A = "https://app.example.com"
B_NUMBER = "+15551112222"


def dial_xml(attrs: str = "", body: str = B_NUMBER, after: str = "") -> str:
    return f"<Response><Dial {attrs}>{body}</Dial>{after}</Response>"


def test_dial_answers_first_then_bridges_and_continues_without_action():
    t = run_xml(dial_xml(after="<Say>After.</Say>"), {"dial": {B_NUMBER: {"status": "answer", "after": 3, "talk": 20}}})
    assert t.ops() == ["answer", "dial", "bridge", "hangup", "say", "hangup", "end"]
    (dial,) = events(t, "dial")
    assert (dial["t"], dial["targets"], dial["timeout"], dial["status"], dial["new_leg"]) == \
        (3.0, [B_NUMBER], 60.0, "answered", "B")


def test_dial_action_receives_dial_call_status_sid_and_duration():
    t = run_xml(dial_xml(f'action="{A}/after"'), {"dial": {B_NUMBER: {"status": "answer", "talk": 42.6}},
                                                  "http": {"*": doc("<Response/>")}})
    (http,) = events(t, "http")
    assert http["params"] == {**DEFAULT_PARAMS, "DialCallStatus": "completed",
                              "DialCallSid": DEFAULT_PARAMS["CallSid"] + "-B", "DialCallDuration": "43"}


def test_dial_action_on_busy_and_no_answer():
    for status, expected in (("busy", "busy"), ("no-answer", "no-answer"), ("failed", "failed")):
        t = run_xml(dial_xml(f'action="{A}/after" timeout="15"'),
                    {"dial": {"*": status}, "http": {"*": doc("<Response/>")}})
        assert events(t, "http")[0]["params"]["DialCallStatus"] == expected
        assert events(t, "http")[0]["params"]["DialCallDuration"] == "0"
    t = run_xml(dial_xml('timeout="15"'), {"dial": {"*": "no-answer"}})
    assert events(t, "dial")[0]["t"] == 15.0


def test_dial_time_limit_ends_the_bridge():
    t = run_xml(dial_xml('timeLimit="10"'), {"dial": {"*": {"status": "answer", "talk": 60}}})
    (bridge,) = events(t, "bridge")
    assert (bridge["duration"], bridge["ended_by"]) == (10.0, "B")
    assert events(t, "hangup")[0] == {"t": 12.0, "leg": "B", "op": "hangup", "by": "flow"}


def test_dial_time_limit_default_is_four_hours():
    assert compile_xml(dial_xml()).states["1-dial"].op.time_limit == 14400.0


def test_dial_caller_id_caller_name_and_hidden_caller_id():
    t = run_xml(dial_xml('callerId="+15559870000" callerName="Acme"'), {"dial": {"*": "busy"}})
    dial = events(t, "dial")[0]
    assert (dial["caller_id"], dial["caller_name"]) == ("+15559870000", "Acme")
    t = run_xml(dial_xml('callerId="+15559870000" hideCallerId="TRUE"'), {"dial": {"*": "busy"}})
    assert events(t, "dial")[0]["caller_id"] == "anonymous"


def test_dial_music_is_the_ringback():
    t = run_xml(dial_xml('dialMusic="https://cdn.example.com/hold.mp3"'), {"dial": {"*": "busy"}})
    assert events(t, "dial")[0]["ringback"] == "https://cdn.example.com/hold.mp3"


def test_dial_send_digits_on_answer():
    t = run_xml(dial_xml('sendDigits="ww1234#"'), {"dial": {"*": "answer"}})
    # answered at 2 s; w = 0.5 s, each key 0.25 s
    assert events(t, "send_dtmf") == [{"t": 4.25, "leg": "B", "op": "send_dtmf", "digits": "ww1234#"}]


def test_dial_callback_url_is_notified_on_connect():
    t = run_xml(dial_xml(f'callbackUrl="{A}/connected" callbackMethod="GET"'), {"dial": {"*": "answer"}})
    (http,) = events(t, "http")
    assert (http["t"], http["leg"], http["method"], http["params"]["DialCallSid"]) == \
        (2.0, "B", "GET", DEFAULT_PARAMS["CallSid"] + "-B")


def test_dial_heartbeat_every_60_seconds_while_bridged():
    t = run_xml(dial_xml(f'heartbeatUrl="{A}/hb" heartbeatMethod="GET"', after="<Say>x</Say>"),
                {"dial": {"*": {"status": "answer", "after": 2, "talk": 150}}})
    beats = events(t, "http")
    assert [(e["t"], e["method"], e["url"]) for e in beats] == [(62.0, "GET", f"{A}/hb"), (122.0, "GET", f"{A}/hb")]
    assert beats[0]["params"] == DEFAULT_PARAMS
    assert [e["op"] for e in t.events].index("bridge") > [e["op"] for e in t.events].index("http")


def test_dial_hangup_on_star_ends_the_bridge_and_the_flow_goes_on():
    t = run_xml(dial_xml('hangupOnStar="true"', after="<Say>Back with us.</Say>"),
                {"caller": [{"keys": "*", "at": 12}], "dial": {"*": {"status": "answer", "talk": 60}}})
    (bridge,) = events(t, "bridge")
    assert (bridge["t"], bridge["duration"], bridge["ended_by"], bridge["key"]) == (14.0, 12.0, "A", "*")
    assert events(t, "hangup")[0] == {"t": 14.0, "leg": "B", "op": "hangup", "by": "flow"}
    assert events(t, "say")[0]["text"] == "Back with us."


def test_dial_hangup_on_star_unpressed_bridges_normally():
    t = run_xml(dial_xml('hangupOnStar="true"'), {"dial": {"*": {"status": "answer", "talk": 20}}})
    assert events(t, "bridge")[0]["ended_by"] == "B"


def test_dial_comma_separated_group_rings_together():
    t = run_xml(dial_xml(body="+15551110001, +15551110002,+15551110003"),
                {"dial": {"+15551110002": {"status": "answer", "after": 4}, "*": "no-answer"}})
    dial = events(t, "dial")[0]
    assert (dial["targets"], dial["answered_by"]) == (["+15551110001", "+15551110002", "+15551110003"], "+15551110002")


def test_dial_group_is_at_most_ten_numbers():
    assert one_error(dial_xml(body=",".join(f"+1555111000{i}" for i in range(10)) + ",+15551110099")).code == \
        "E_CONTENT"


def test_dial_group_confirm_key_accepted():
    t = run_xml(dial_xml(f'action="{A}/a" groupConfirmKey="1" groupConfirmFile="https://cdn.example.com/press1.wav"',
                         "+15551110001,+15551110002"),
                {"dial": {"+15551110001": {"status": "answer", "inputs": ["1"]}}, "http": {"*": doc("<Response/>")}})
    assert [(e["leg"], e["op"]) for e in t.events[2:5]] == [("B", "play"), ("B", "collect"), ("A", "bridge")]
    assert events(t, "http")[0]["params"]["DialCallStatus"] == "completed"


def test_dial_group_confirm_key_refused_hangs_up_the_called_party():
    t = run_xml(dial_xml(f'action="{A}/a" groupConfirmKey="1"', "+15551110001"),
                {"dial": {"*": {"status": "answer", "inputs": ["9"]}}, "http": {"*": doc("<Response/>")}})
    assert events(t, "bridge") == []
    assert events(t, "hangup")[0]["leg"] == "B"
    assert events(t, "http")[0]["params"]["DialCallStatus"] == "no-answer"


def test_group_confirm_file_needs_the_key():
    assert one_error(dial_xml('groupConfirmFile="https://cdn.example.com/p.wav"')).code == "E_MISSING_ATTR"


def test_dial_record_records_the_bridge_and_reports_the_recording():
    t = run_xml(dial_xml(f'action="{A}/a" record="true" recordCallbackUrl="{A}/rec" recordFormat="mp3" '
                         'recordDirection="both"'),
                {"dial": {"*": {"status": "answer", "talk": 30}}, "http": {"*": doc("<Response/>")}})
    (start,) = events(t, "record_start")
    assert (start["leg"], start["url"][-4:]) == ("B", ".mp3")
    action, notice = events(t, "http")
    assert action["params"]["RecordingUrl"] == start["url"]
    assert (notice["url"], notice["params"]["RecordingUrl"], notice["params"]["RecordingDuration"]) == \
        (f"{A}/rec", start["url"], "30")


def test_dial_if_machine_hangup():
    t = run_xml(dial_xml(f'action="{A}/a" ifMachine="Hangup"'),
                {"dial": {"*": {"status": "answer", "machine": True}}, "http": {"*": doc("<Response/>")}})
    assert events(t, "dial")[0]["machine"] is True
    assert events(t, "bridge") == []
    assert events(t, "http")[0]["params"]["AnsweredBy"] == "machine"


def test_dial_if_machine_continue_bridges_and_reports_a_human():
    t = run_xml(dial_xml(f'action="{A}/a" ifMachine="continue"'),
                {"dial": {"*": "answer"}, "http": {"*": doc("<Response/>")}})
    assert events(t, "dial")[0]["machine"] is False and len(events(t, "bridge")) == 1
    assert events(t, "http")[0]["params"]["AnsweredBy"] == "human"


def test_dial_if_machine_redirect_runs_the_document_on_the_called_party():
    t = run_xml(dial_xml(f'ifMachine="redirect" ifMachineUrl="{A}/vm" ifMachineMethod="GET"'),
                {"dial": {"*": {"status": "answer", "machine": True}},
                 "http": {f"{A}/vm": doc("<Response><Say>Please call us back.</Say></Response>")}})
    assert [(e["leg"], e["op"]) for e in t.events[2:5]] == [("B", "http"), ("B", "say"), ("B", "hangup")]
    assert events(t, "http")[0]["method"] == "GET"
    assert events(t, "bridge") == []


def test_if_machine_redirect_needs_a_url():
    assert one_error(dial_xml('ifMachine="redirect"')).code == "E_MISSING_ATTR"


def test_dial_number_noun_with_send_digits_and_whisper_url():
    t = run_xml(dial_xml(body=f'<Number sendDigits="1w2" url="{A}/whisper" method="GET">+15551110001</Number>'),
                {"dial": {"*": {"status": "answer", "talk": 5}},
                 "http": {f"{A}/whisper": doc("<Response><Say>Call from Acme.</Say></Response>")}})
    assert [(e["leg"], e["op"]) for e in t.events[1:6]] == [
        ("A", "dial"), ("B", "send_dtmf"), ("B", "http"), ("B", "say"), ("A", "bridge")]


def test_whisper_document_hanging_up_refuses_the_call():
    t = run_xml(dial_xml(body=f'<Number url="{A}/whisper">+15551110001</Number>'),
                {"dial": {"*": "answer"}, "http": {"*": doc("<Response><Hangup/></Response>")}})
    assert events(t, "bridge") == []


def test_per_number_send_digits_apply_to_whichever_answered():
    body = '<Number sendDigits="11">+15551110001</Number><Number sendDigits="22">+15551110002</Number>'
    t = run_xml(dial_xml(body=body), {"dial": {"+15551110002": "answer", "*": "no-answer"}})
    assert events(t, "send_dtmf")[0]["digits"] == "22"


def test_dial_sip_and_user_nouns():
    t = run_xml(dial_xml(body="<Sip>sip:alice@pbx.example.com</Sip><User>bob</User>"), {"dial": {"*": "busy"}})
    assert events(t, "dial")[0]["targets"] == ["sip:alice@pbx.example.com", "user:bob"]


def test_sip_noun_needs_a_sip_uri():
    assert one_error(dial_xml(body="<Sip>alice@pbx</Sip>")).code == "E_CONTENT"


def test_dial_needs_a_destination_and_not_both_kinds():
    assert one_error("<Response><Dial/></Response>").code == "E_CONTENT"
    assert one_error(dial_xml(body="+15551110001<Number>+15551110002</Number>")).code == "E_CONTENT"
    assert one_error(dial_xml(body="call me")).code == "E_CONTENT"


def test_dial_conference_noun():
    t = run_xml(dial_xml(f'action="{A}/a"', '<Conference muted="true" beep="false" startConferenceOnEnter="false" '
                         'endConferenceOnExit="true" maxParticipants="10">sales-room</Conference>'),
                {"conference": {"sales-room": {"talk": 45}}, "http": {"*": doc("<Response/>")}})
    (conference,) = events(t, "conference")
    assert (conference["room"], conference["duration"]) == ("sales-room", 45.0)
    op = compile_xml(dial_xml(body='<Conference muted="true" beep="false">r</Conference>')).states["1-dial"].op
    assert (op.kind, op.muted, op.beep, op.start_on_enter, op.end_on_exit) == ("conference", True, False, True, False)
    assert events(t, "http")[0]["params"]["DialCallStatus"] == "completed"


def test_dial_conference_callback_and_recording():
    t = run_xml(dial_xml(body=f'<Conference callbackUrl="{A}/joined" record="true" recordCallbackUrl="{A}/rec" '
                              'recordFileFormat="wav">r</Conference>'),
                {"conference": {"r": {"talk": 10}}, "http": {"*": {"status": 200}}})
    assert [e["op"] for e in t.events] == ["http", "answer", "record_start", "conference", "record_stop", "hangup",
                                          "http", "end"]
    assert events(t, "http")[1]["params"]["RecordingDuration"] == "10"


def test_conference_beep_only_on_enter_is_refused_in_twiml():
    d = one_error(dial_xml(body='<Conference beep="onEnter">r</Conference>'), dialect="twiml")
    assert d.code == "E_UNSUPPORTED"


def test_response_level_conference_dials_the_participants_in():
    t = run_xml('<Response><Conference name="team" muted="false" deaf="false" maxParticipants="5">'
                '<Participant muted="TRUE">+15551110001</Participant><Participant deaf="true">+15551110002</Participant>'
                "</Conference></Response>",
                {"dial": {"*": {"status": "answer", "after": 3}}, "conference": {"team": {"talk": 60}}})
    assert [(e["leg"], e["op"]) for e in t.events[:6]] == [
        ("A", "answer"), ("A", "dial"), ("B", "conference"), ("A", "dial"), ("C", "conference"), ("A", "conference")]
    assert events(t, "conference")[2] == {"t": 66.0, "leg": "A", "op": "conference", "room": "team", "duration": 60.0}
    flow = compile_xml('<Response><Conference name="team"><Participant muted="TRUE">+15551110001</Participant>'
                       "</Conference></Response>")
    join = flow.states["1-conference.p1.join"].op
    assert (join.room, join.muted, join.wait) == ("team", True, False)


def test_response_level_conference_needs_a_name():
    assert one_error("<Response><Conference><Participant>+15551110001</Participant></Conference></Response>").code == \
        "E_MISSING_ATTR"


def test_response_level_conference_participant_not_answering_is_skipped():
    t = run_xml('<Response><Conference conferenceId="c1"><Participant>+15551110001</Participant></Conference>'
                "</Response>", {"dial": {"*": "busy"}, "conference": {"c1": {"talk": 5}}})
    assert [e["op"] for e in t.events] == ["answer", "dial", "conference", "hangup", "end"]


def test_a_whisper_document_may_not_dial():
    t = run_xml(dial_xml(body=f'<Number url="{A}/whisper">+15551110001</Number>'),
                {"dial": {"*": {"status": "answer", "talk": 5}},
                 "http": {f"{A}/whisper": doc("<Response><Dial>+15553334444</Dial></Response>")}})
    (error,) = events(t, "error")
    assert "E_WHISPER_DIAL" in error["message"] and "<Dial> is not allowed in a whisper document" in error["message"]
    assert [e["leg"] for e in events(t, "dial")] == ["A"]  # the called party dials no one
