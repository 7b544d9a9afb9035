from flowengine.testing.transcript import Transcript, event_json, event_text


def test_json_lines_keep_field_order_and_unicode():
    event = {"t": 1.5, "leg": "A", "op": "say", "text": "Grüß Gott"}
    assert event_json(event) == '{"t": 1.5, "leg": "A", "op": "say", "text": "Grüß Gott"}'


def test_text_rendering_of_the_spec_examples():
    assert event_text({"t": 4.133, "leg": "A", "op": "say", "text": "Press 1 for sales"}) == \
        '  4.133 A say "Press 1 for sales"'
    assert event_text({"t": 9.133, "leg": "A", "op": "collect", "max_digits": 1, "timeout": 5.0,
                       "digits": "1", "reason": "max_digits"}) == '  9.133 A collect max=1 timeout=5 -> "1" (max_digits)'


def test_text_rendering_of_other_events():
    lines = [event_text(e) for e in [
        {"t": 0.5, "leg": "A", "op": "say", "text": "Hi", "interrupted": True},
        {"t": 2, "leg": "A", "op": "dial", "targets": ["+1", "+2"], "timeout": 30, "status": "answered",
         "answered_by": "+2", "new_leg": "B"},
        {"t": 32, "leg": "A", "op": "bridge", "with": "B", "duration": 30.0, "ended_by": "B"},
        {"t": 32, "leg": "B", "op": "hangup", "by": "callee"},
        {"t": 40, "leg": "A", "op": "error", "code": "E_X", "message": "boom", "source": "f.xml:3:1"},
        {"t": 40, "leg": "A", "op": "custom_event", "detail": 1},
    ]]
    assert lines == [
        '  0.500 A say "Hi" (interrupted)',
        "  2.000 A dial +1,+2 timeout=30 -> answered by +2 [B]",
        " 32.000 A bridge with B 30s, ended by B",
        " 32.000 B hangup by callee",
        " 40.000 A error E_X: boom at f.xml:3:1",
        " 40.000 A custom_event detail=1",
    ]


def test_transcript_helpers():
    t = Transcript([{"t": 0, "leg": "A", "op": "answer"}, {"t": 1, "leg": "A", "op": "end", "reason": "x"}])
    assert t.ops() == ["answer", "end"] and len(t) == 2 and t.find("end", reason="x") == [t[1]]
    assert t.to_jsonl().count("\n") == 2
