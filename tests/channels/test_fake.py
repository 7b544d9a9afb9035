"""The fake channel's world and timing model (simulation spec §2–§3), observed through transcripts."""

from tests.helpers import ops, run, strip

MENU_PROMPT = "Press 1 for sales"  # 17 characters = 1.133 s


def collect_flow(**collect):
    spec = {"op": "collect", "prompts": [{"op": "say", "text": MENU_PROMPT}], **collect}
    return {"c": spec}


def events(transcript, op):
    return [e for e in transcript.events if e["op"] == op]


def test_say_lasts_len_over_15_per_repetition_to_the_ms():
    t = run({"s": {"op": "say", "text": "Hello world!!", "loop": 3}})  # 13 chars = 0.867 s
    assert [e["t"] for e in events(t, "say")] == [0.867, 1.734, 2.601]


def test_play_uses_media_durations_default_3s():
    t = run({"a": {"op": "play", "url": "https://cdn/x.wav", "next": "b"}, "b": {"op": "play", "url": "other.wav"}},
            {"media": {"https://cdn/x.wav": 4.5}})
    assert [e["t"] for e in events(t, "play")] == [4.5, 7.5]


def test_silence_and_say_digits():
    t = run({"a": {"op": "silence", "seconds": 2.5, "next": "b"}, "b": {"op": "say_digits", "digits": "1234"}})
    assert [e["t"] for e in t.events[1:3]] == [2.5, 4.5]


def test_keys_pressed_after_prompts_by_default():
    t = run(collect_flow(), {"caller": ["1"]})
    say, collect = events(t, "say")[0], events(t, "collect")[0]
    assert say["t"] == 1.133 and "interrupted" not in say
    assert collect == {"t": 1.133, "leg": "A", "op": "collect", "max_digits": 1, "timeout": 5.0,
                       "finish_on_key": "#", "digits": "1", "reason": "max_digits"}


def test_keys_at_offset_barge_into_the_prompt():
    t = run(collect_flow(), {"caller": [{"keys": "2", "at": 0.5}]})
    assert strip(t.events[1:3], "leg") == [
        {"t": 0.5, "op": "say", "text": MENU_PROMPT, "interrupted": True},
        {"t": 0.5, "op": "collect", "max_digits": 1, "timeout": 5.0, "finish_on_key": "#", "digits": "2",
         "reason": "max_digits"},
    ]


def test_barge_in_off_discards_keys_pressed_during_prompts():
    t = run(collect_flow(barge_in=False), {"caller": [{"keys": "2", "at": 0.5}]})
    collect = events(t, "collect")[0]
    assert collect["digits"] == "" and collect["reason"] == "timeout" and collect["t"] == 6.133


def test_keys_later_than_the_timeout_are_never_pressed():
    t = run(collect_flow(), {"caller": [{"keys": "1", "at": 10}]})
    assert events(t, "collect")[0]["digits"] == "" and events(t, "collect")[0]["t"] == 6.133


def test_no_keys_lasts_the_full_timeout():
    t = run(collect_flow(timeout=7), {"caller": ["timeout"]})
    assert events(t, "collect")[0]["t"] == 8.133 and events(t, "collect")[0]["reason"] == "timeout"


def test_finish_key_ends_input_and_is_not_included():
    t = run(collect_flow(max_digits=None), {"caller": ["1234#"]})
    collect = events(t, "collect")[0]
    assert (collect["digits"], collect["reason"], collect["max_digits"]) == ("1234", "finish_key", None)


def test_inter_digit_timeout_after_some_keys():
    t = run(collect_flow(max_digits=4, inter_digit_timeout=2), {"caller": ["12"]})
    collect = events(t, "collect")[0]
    assert (collect["digits"], collect["reason"], collect["t"]) == ("12", "timeout", 3.133)


def test_keys_beyond_max_digits_are_dropped():
    t = run(collect_flow(max_digits=2), {"caller": ["12345"]})
    assert events(t, "collect")[0]["digits"] == "12"


def test_early_match_stops_on_an_unambiguous_choice():
    flow = collect_flow(max_digits=3, choices=["1", "21", "22"], early_match=True, finish_on_key=None)
    flow["c"]["edges"] = {"match:21": "c"}
    t = run(flow, {"caller": ["219", "2"]})
    first, second = events(t, "collect")
    assert (first["digits"], first["reason"]) == ("21", "match")
    assert (second["digits"], second["reason"]) == ("2", "timeout")


def test_caller_hangs_up_when_entries_run_out():
    t = run(collect_flow(), {"caller": []})
    assert ops(t) == ["answer", "collect", "hangup", "end"]
    assert events(t, "collect")[0]["reason"] == "hangup"
    assert events(t, "hangup")[0]["by"] == "caller"


def test_hangup_entry_hangs_up_when_the_request_starts():
    t = run({"s": {"op": "say", "text": "Hi", "next": "c"}, **collect_flow()}, {"caller": ["hangup"]})
    assert events(t, "hangup")[0]["t"] == 0.133


def test_hangup_at_cuts_the_running_operation():
    t = run({"s": {"op": "say", "text": "x" * 150}}, {"hangup_at": 4})
    assert strip(t.events, "leg") == [
        {"t": 0.0, "op": "answer"},
        {"t": 4.0, "op": "say", "text": "x" * 150, "interrupted": True},
        {"t": 4.0, "op": "hangup", "by": "caller"},
        {"t": 4.0, "op": "end", "reason": "caller_hangup"},
    ]


def test_hangup_at_during_a_collect_keeps_played_prompts():
    t = run(collect_flow(), {"caller": ["timeout"], "hangup_at": 3})
    collect = events(t, "collect")[0]
    assert collect["reason"] == "hangup" and collect["t"] == 3.0
    assert "interrupted" not in events(t, "say")[0]


DIAL = {"d": {"op": "dial", "targets": ["+15551112222"], "timeout": 20}}


def test_dial_answer_default_ring_2s_and_talk_30s():
    t = run(DIAL, {"dial": {"+15551112222": "answer"}})
    dial, bridge = events(t, "dial")[0], events(t, "bridge")[0]
    assert (dial["t"], dial["status"], dial["new_leg"]) == (2.0, "answered", "B")
    assert bridge == {"t": 32.0, "leg": "A", "op": "bridge", "with": "B", "duration": 30.0, "ended_by": "B"}
    assert {"t": 32.0, "leg": "B", "op": "hangup", "by": "callee"} in t.events


def test_dial_no_answer_takes_the_dial_timeout_and_busy_1s():
    assert events(run(DIAL, {"dial": {"*": "no-answer"}}), "dial")[0]["t"] == 20.0
    busy = events(run(DIAL, {"dial": {"*": "busy"}}), "dial")[0]
    assert (busy["t"], busy["status"]) == (1.0, "busy")
    failed = events(run(DIAL, {"dial": {"*": {"status": "failed", "after": 3}}}), "dial")[0]
    assert (failed["t"], failed["status"]) == (3.0, "failed")


def test_dial_without_entry_or_star_is_no_answer():
    assert events(run(DIAL, {}), "dial")[0]["status"] == "no-answer"


def test_answer_after_the_dial_timeout_is_no_answer():
    dial = events(run(DIAL, {"dial": {"*": {"status": "answer", "after": 25}}}), "dial")[0]
    assert (dial["status"], dial["t"]) == ("no-answer", 20.0)


def test_group_dial_first_to_answer_wins():
    flow = {"d": {"op": "dial", "targets": ["+1", "+2", "+3"]}}
    t = run(flow, {"dial": {"+1": "busy", "+2": {"status": "answer", "after": 5}, "+3": {"status": "answer", "after": 3}}})
    dial = events(t, "dial")[0]
    assert (dial["answered_by"], dial["t"]) == ("+3", 3.0)


def test_bridge_ended_by_the_caller():
    t = run(DIAL, {"dial": {"*": {"status": "answer", "talk": 10, "hangup": "caller"}}})
    assert {"t": 12.0, "leg": "A", "op": "hangup", "by": "caller"} in t.events
    assert {"t": 12.0, "leg": "B", "op": "hangup", "by": "flow"} in t.events
    assert t.events[-1]["reason"] == "caller_hangup"


def test_hangup_while_ringing_cancels_the_dial():
    t = run(DIAL, {"dial": {"*": {"status": "answer", "after": 10}}, "hangup_at": 4})
    dial = events(t, "dial")[0]
    assert (dial["status"], dial["t"]) == ("canceled", 4.0)


def test_dialled_party_inputs_are_consumed_on_its_leg():
    flow = {
        "d": {"op": "dial", "targets": ["+1"], "on_answer": "whisper", "bridge": False, "edges": {"answered": "end"}},
        "whisper": {"op": "collect", "leg": "B", "prompts": [{"op": "say", "text": "Press 1 to accept"}]},
        "end": {"op": "hangup"},
    }
    t = run(flow, {"dial": {"+1": {"status": "answer", "inputs": ["1"]}}})
    collect = events(t, "collect")[0]
    assert (collect["leg"], collect["digits"]) == ("B", "1")


RECORD = {"r": {"op": "record", "max_length": 30, "silence_timeout": 5}}


def test_record_talk_then_silence():
    record = events(run(RECORD, {"caller": [{"record": 7}]}), "record")[0]
    assert (record["duration"], record["reason"], record["t"]) == (7.0, "silence", 12.0)
    assert record["url"] == "https://rec.example/rec_001.wav"


def test_record_talk_then_finish_key():
    record = events(run(RECORD, {"caller": [{"record": 7, "keys": "#"}]}), "record")[0]
    assert (record["duration"], record["reason"], record["t"]) == (7.0, "finish_key", 7.0)


def test_record_max_length():
    record = events(run(RECORD, {"caller": [{"record": 90}]}), "record")[0]
    assert (record["duration"], record["reason"], record["t"]) == (30.0, "max_length", 30.0)


def test_record_nothing():
    record = events(run(RECORD, {"caller": ["timeout"]}), "record")[0]
    assert (record["duration"], record["reason"], record["url"]) == (0.0, "silence", "")


HTTP = {"h": {"op": "http", "url": "https://api.example.com/lookup", "params": {"n": "1"}, "result": "r",
              "edges": {"ok": "h2", "error": "h2"}},
        "h2": {"op": "http", "url": "https://api.example.com/lookup", "params": {"n": "1"},
               "edges": {"ok": "h3", "error": "h3"}},
        "h3": {"op": "http", "url": "https://other.example.com/", "method": "POST"}}


def test_http_full_url_then_without_query_lists_consumed_then_404():
    t = run(HTTP, {"http": {
        "https://api.example.com/lookup?n=1": [{"status": 200}, {"status": 500}],
        "https://api.example.com/lookup": {"status": 201},
    }})
    assert [e["status"] for e in events(t, "http")] == [200, 500, 404]


def test_http_method_specific_key_and_star():
    t = run(HTTP, {"http": {"POST https://other.example.com/": {"status": 202}, "*": {"status": 204}}})
    assert [e["status"] for e in events(t, "http")] == [204, 204, 202]


def test_http_timeout_costs_the_request_timeout():
    flow = {"h": {"op": "http", "url": "https://slow.example.com/", "timeout": 3, "edges": {"error": "s"}},
            "s": {"op": "say", "text": "x"}}
    t = run(flow, {"http": {"https://slow.example.com/": {"timeout": True}}})
    http = events(t, "http")[0]
    assert (http["status"], http["t"]) == (0, 3.0)


def test_queue_outcomes():
    flow = {"q": {"op": "queue", "name": "support", "max_wait": 45}}
    assert events(run(flow, {"queue": {"support": "timeout"}}), "queue")[0]["t"] == 45.0
    t = run(flow, {"queue": {"support": {"status": "answered/caller_hangup", "after": 5, "talk": 20}}})
    assert t.events[-1]["reason"] == "caller_hangup" and events(t, "queue")[0]["t"] == 25.0


def test_same_inputs_same_bytes():
    scenario = {"caller": ["9", {"keys": "1", "at": 0.3}], "dial": {"*": "answer"}}
    flow = collect_flow(choices=["1"])
    flow["c"]["edges"] = {"invalid": "c", "match:1": "d"}
    flow["d"] = DIAL["d"]
    assert run(flow, scenario).to_jsonl() == run(flow, scenario).to_jsonl()
