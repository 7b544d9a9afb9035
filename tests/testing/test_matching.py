import pytest

from flowengine.testing.runner import assert_transcript, field_matches, match_events

EVENTS = [
    {"t": 0.0, "leg": "A", "op": "answer"},
    {"t": 1.1, "leg": "A", "op": "say", "text": "Welcome to Acme"},
    {"t": 2.2, "leg": "A", "op": "collect", "digits": "1", "reason": "max_digits", "max_digits": 1},
    {"t": 4.2, "leg": "A", "op": "dial", "targets": ["+15551112222"], "status": "answered", "new_leg": "B"},
    {"t": 9.0, "leg": "A", "op": "end", "reason": "flow_end"},
]


def test_ordered_subsequence():
    assert match_events(EVENTS, [{"op": "say"}, {"op": "dial", "status": "answered"}]) == []
    failures = match_events(EVENTS, [{"op": "dial"}, {"op": "say"}])
    assert len(failures) == 1 and "expected event #2" in failures[0].message


def test_every_named_field_must_be_equal_as_json():
    assert not match_events(EVENTS, [{"op": "collect", "max_digits": 1.0}])
    assert match_events(EVENTS, [{"op": "collect", "max_digits": True}])  # true is not 1
    assert not match_events(EVENTS, [{"op": "dial", "targets": ["+15551112222"]}])
    assert match_events(EVENTS, [{"op": "dial", "targets": ["+15551112222", "+1"]}])
    assert match_events(EVENTS, [{"op": "say", "voice": "alice"}])  # a field the event lacks


def test_regex_strings_match_the_whole_value():
    assert field_matches("/Welcome.*/", "Welcome to Acme")
    assert not field_matches("/Welcome/", "Welcome to Acme")
    assert field_matches("/4\\.2/", 4.2)
    assert not field_matches("/x/", None)


def test_forbid_anywhere():
    failures = match_events(EVENTS, forbid=[{"op": "error"}, {"op": "say", "text": "/.*Acme/"}])
    assert len(failures) == 1 and "line 2" in failures[0].message


def test_failure_report_shows_where_matching_stopped():
    with pytest.raises(AssertionError) as exc:
        assert_transcript(EVENTS, expect=[{"op": "say"}, {"op": "dial", "status": "busy"}])
    report = str(exc.value)
    assert 'expected event #2 {"op": "dial", "status": "busy"} not found after transcript line 2' in report
    assert ">  4   4.200 A dial +15551112222 timeout=None -> answered [B]" in report or "dial +15551112222" in report


def test_a_pattern_that_does_not_compile_is_a_test_file_error(tmp_path):
    from flowengine.errors import ScenarioError
    from flowengine.testing.runner import load_test_file

    test = tmp_path / "typo.test.yaml"
    test.write_text('flow: x.flow.json\ncases:\n  - name: typo\n    forbid:\n      - {op: say, text: "/Good(bye/"}\n')
    with pytest.raises(ScenarioError) as info:
        load_test_file(test)
    (d,) = info.value.diagnostics
    assert d.code == "E_TEST_FILE" and (d.span.line, d.span.col) == (5, 25)
    assert d.message.startswith("forbid 1: text: /Good(bye/ is not a valid regular expression (missing ), ")
