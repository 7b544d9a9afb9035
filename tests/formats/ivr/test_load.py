"""Strict loading (spec 2.10) and the checks beyond the schema: each problem is one diagnostic at its line.

Documents get `kind: ivr` / `version: 1` as lines 1-2 (see _ivr.menu): their first line is line 3.
"""

from __future__ import annotations

import pytest

from flowengine.cli.validate import compile_warnings
from tests.formats.ivr._ivr import menu, problems, rendered


def where(text: str) -> list[tuple[str, int]]:
    return [(d.code, d.span.line) for d in problems(text)]


def test_an_unquoted_numeric_option_key_is_an_error_that_says_to_quote_it():
    found = problems("""
        entry: main
        contexts:
          main:
            options:
              start: [{play: {tts: hi}}]
              1: [{hangup: {}}]
              010: [{hangup: {}}]
    """)
    assert [(d.code, d.span.line, d.span.col) for d in found] == [("E_IVR_KEY", 8, 7), ("E_IVR_KEY", 9, 7)]
    assert found[0].message == 'option key 1 must be a quoted string: write "1"'
    assert found[1].message == 'option key 010 must be a quoted string: write "010"'
    assert found[1].hint == "unquoted, YAML reads it as the int 10"


def test_on_is_not_an_option_key():
    assert rendered("""
        entry: main
        contexts: {main: {options: {"on": [{hangup: {}}]}}}
    """) == ["t.ivr.yaml:4:29: error[E_IVR_OPTION]: an option key is digits (0-9 * #, quoted) or start, timeout, "
             "invalid, exhausted, not 'on'"]


def test_duplicate_keys_are_errors():
    found = problems("""
        entry: main
        contexts:
          main:
            options:
              "1": [{hangup: {}}]
              "1": [{hangup: {cause: busy}}]
    """)
    assert [(d.code, d.span.line) for d in found] == [("E_DUPLICATE_KEY", 8)]


def test_an_unknown_action_gets_a_suggestion():
    found = problems("""
        entry: main
        contexts: {main: {options: {start: [{paly: {tts: hi}}]}}}
    """)
    assert found[0].code == "E_IVR_SCHEMA" and "unknown field 'paly'" in found[0].message
    assert "did you mean 'play'" in found[0].message and found[0].span.line == 4


def test_a_step_has_exactly_one_action():
    assert where("""
        entry: main
        contexts:
          main:
            options:
              start:
                - {play: {tts: hi}, hangup: {}}
                - {name: nothing}
    """) == [("E_IVR_STEP", 8), ("E_IVR_STEP", 9)]


@pytest.mark.parametrize("step, code, line", [
    ("{goto: {context: mian}}", "E_IVR_REF", 10),
    ("{goto: {context: main, option: \"9\"}}", "E_IVR_REF", 10),
    ("{play: {sound: welcom}}", "E_IVR_REF", 10),
    ("{when: {interval: ofice}, hangup: {}}", "E_IVR_REF", 10),
    ("{voicemail: {greeting: nope}}", "E_IVR_REF", 10),
    ("{play: {tts: 'Hi ${Name}'}}", "E_IVR_VAR", 10),
    ("{set_var: {caller_id_number: x}}", "E_IVR_READONLY", 10),
    ("{collect: {var: dial_status, max_digits: 2}}", "E_IVR_READONLY", 10),
    ("{transfer: {to: [abc]}}", "E_IVR_DEST", 10),
    ("{transfer: {to: ['101'], var: x}}", "E_IVR_TRANSFER", 10),
    ("{final: false, play: {tts: hi}}", "E_IVR_FINAL", 10),
    ("{webhook: {url: 'https://x.example/', timeout_ms: 50}}", "E_IVR_SCHEMA", 10),
    ("{webhook: {url: 'ftp://x.example/'}}", "E_IVR_URL", 10),
    ("{when: {caller_id: {match: '+1(555'}}, hangup: {}}", "E_IVR_REGEX", 10),
    ("{play: {tts: hi, file: x.wav}}", "E_IVR_PLAY", 10),
    ("{goto: {back: true, context: main}}", "E_IVR_GOTO", 10),
    ("{say_digits: {digits: '12', var: x}}", "E_IVR_PARAM", 10),
    ("{collect: {var: x, min_digits: 4, max_digits: 2}}", "E_IVR_PARAM", 10),
    ("{webhook: {url: 'https://x.example/', params: {call_id: x}}}", "E_IVR_PARAM", 10),
])
def test_each_reference_and_value_is_checked_at_its_line(step, code, line):
    found = problems("""
        entry: main
        sounds: {welcome: {file: w.wav}}
        intervals: {office: {conditions: [{days: mon-fri}]}}
        contexts:
          main:
            options:
              start:
                - STEP
    """.replace("STEP", step))
    assert (found[0].code, found[0].span.line) == (code, line), [d.render() for d in found]


def test_the_entry_must_name_a_context():
    found = problems("entry: mian\ncontexts: {main: {options: {start: []}}}")
    assert (found[0].code, found[0].span.line) == ("E_IVR_REF", 3)
    assert found[0].message == "unknown context 'mian'; did you mean 'main'?"


def test_an_option_longer_than_digit_len_can_never_be_collected():
    found = problems("""
        entry: main
        contexts:
          main:
            digit_len: 2
            options:
              "12": [{hangup: {}}]
              "123": [{hangup: {}}]
    """)
    assert [(d.code, d.span.line) for d in found] == [("E_IVR_DIGIT_LEN", 9)]
    assert "'123' has 3 digits" in found[0].message


def test_an_option_holding_the_terminator_is_an_error():
    assert where("""
        entry: main
        contexts:
          main:
            terminator: "#"
            digit_len: 2
            options: {"1#": [{hangup: {}}]}
    """) == [("E_IVR_DIGIT_LEN", 8)]


def test_contexts_that_jump_to_each_other_without_waiting_are_an_error():
    found = problems("""
        entry: a
        contexts:
          a: {options: {start: [{set_var: {x: "1"}}, {goto: {context: b}}]}}
          b: {options: {start: [{when: {var: {x: "1"}}, goto: {context: a}}, {play: {tts: hi}}]}}
    """)
    assert [(d.code, d.span.line) for d in found] == [("E_IVR_LOOP", 5)]
    assert found[0].message.startswith("a → b → a jump to each other")


def test_jumping_back_after_playing_media_is_fine():
    flow = menu("""
        entry: a
        contexts:
          a: {options: {start: [{play: {tts: hi}}, {goto: {context: b}}]}}
          b: {options: {start: [{goto: {context: a}}]}}
    """)
    assert "a:start" in flow.states


def test_voicemail_while_disabled_is_an_error():
    assert where("""
        entry: main
        voicemail: {enabled: false}
        contexts: {main: {options: {start: [{voicemail: {}}]}}}
    """) == [("E_IVR_VOICEMAIL", 5)]


@pytest.mark.parametrize("condition, message", [
    ("{time: '25:00-26:00'}", "'25:00' is not a valid time of day"),
    ("{time: '9-17'}", "is not a time range"),
    ("{days: [mon, funday]}", "'funday' is not a weekday"),
    ("{dates: '2026-02-30'}", "is not a date"),
    ("{dates: '2026-03-02..2026-03-01'}", "ends before it starts"),
    ("{months: [13]}", "13 is not a month"),
    ("{mdays: '0-5'}", "0 is not a day of the month"),
])
def test_invalid_intervals_are_errors_at_their_line(condition, message):
    found = problems(f"""
        entry: main
        intervals:
          office:
            conditions:
              - {condition}
        contexts: {{main: {{options: {{start: []}}}}}}
    """)
    assert (found[0].code, found[0].span.line) == ("E_IVR_INTERVAL", 7)
    assert message in found[0].message


def test_unknown_timezones_are_errors():
    found = problems("""
        entry: main
        timezone: Mars/Olympus
        intervals: {x: {timezone: Europe/Lodnon, conditions: []}}
        contexts: {main: {options: {start: []}}}
    """)
    assert [(d.code, d.span.line) for d in found] == [("E_IVR_TIMEZONE", 4), ("E_IVR_INTERVAL", 5)]


def test_several_problems_are_reported_together():
    found = problems("""
        entry: main
        contexts:
          main:
            options:
              start: [{goto: {context: nowhere}}, {play: {sound: missing}}]
              "1": [{set_var: {digits: "1"}}]
    """)
    assert [d.code for d in found if d.is_error] == ["E_IVR_REF", "E_IVR_REF", "E_IVR_READONLY"]


def test_outbound_documents_are_refused_clearly():
    found = problems("kind: outbound\nversion: 1\nentry: main\ncontexts: {}")
    assert found[0].code == "E_IVR_KIND" and "not supported" in found[0].message


def test_yaml_syntax_errors_keep_their_position():
    found = problems("entry: main\ncontexts: {main: [}")
    assert found[0].code == "E_YAML" and found[0].span.line == 4


def test_a_context_name_must_be_lower_case():
    assert where("entry: Main\ncontexts: {Main: {options: {start: []}}}")[0] == ("E_IVR_NAME", 4)


def test_warnings_do_not_stop_the_compile_and_stay_with_the_flow():
    flow = menu("""
        entry: main
        contexts:
          main:
            options:
              start:
                - hangup: {}
                - play: {tts: never}
                - record: {action: start, format: mp3}
    """)
    assert [(w.code, w.span.line) for w in compile_warnings(flow)] == [
        ("W_IVR_UNREACHABLE", 9), ("W_IVR_IGNORED", 10)]


def test_kind_version_and_entry_are_required():
    found = problems("kind: ivr\ncontexts: {main: {options: {}}}")
    assert {d.code for d in found} == {"E_IVR_SCHEMA"}
    assert any("'version' is a required property" in d.message for d in found)
