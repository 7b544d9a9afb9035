"""The execution rules R1-R14 of the unified IVR model (research/ivr-menus.md 2.1), one group each."""

from __future__ import annotations

from tests.formats.ivr._ivr import at, brief, ev, menu, problems, run

SALES = """
entry: main
contexts:
  main:
    options:
      start: [{play: {tts: "Press 1."}}]
      "1": [{play: {tts: "Sales."}}]
"""


# -- R1 entry -------------------------------------------------------------------------------------------

def test_R1_answers_then_sleeps_then_enters_the_entry_context():
    t = run("""
        entry: b
        sleep_ms: 500
        contexts:
          a: {options: {start: [{play: {tts: "A"}}]}}
          b: {options: {start: [{play: {tts: "B"}}]}}
    """)
    assert brief(t)[:3] == ["answer", "silence 0.5", "say B"]
    assert ev(t, "answer")[0]["t"] == 0.0


def test_R1_answer_false_answers_at_the_first_media_action():
    t = run("""
        entry: main
        answer: false
        contexts:
          main:
            options:
              start:
                - set_var: {lang: fr}
                - play: {tts: "Bonjour"}
    """)
    assert brief(t)[:3] == ["set lang=fr", "answer", "say Bonjour"]


def test_R1_lifetime_clock_starts_at_answer():
    t = run("""
        entry: main
        answer: false
        lifetime_s: 5
        contexts:
          main:
            options:
              start:
                - webhook: {url: "https://slow.example.com/", timeout_ms: 4000}
                - play: {tts: "Press 1, 2 or 3 for something, or wait a while please."}
              "1": [{hangup: {}}]
    """, {"http": {"*": {"timeout": True}}, "caller": ["timeout"]})
    # 4 s of webhook before the answer do not count: the lifetime ends 5 s after the answer
    assert ev(t, "answer")[0]["t"] == 4.0
    assert ev(t, "lifetime_expired")[0]["t"] == 9.0


# -- R2 entering a context ------------------------------------------------------------------------------

LOOP = """
entry: main
defaults: {max_failures: 2}
contexts:
  main:
    options:
      start: [{play: {tts: "main"}}]
      "1": [{goto: {context: side}}]
      timeout: [{goto: {context: side}}]
  side:
    options:
      start: [{play: {tts: "side"}}]
      "1": [{goto: {context: main}}]
"""


def test_R2_entering_from_another_context_resets_its_failures():
    # main: timeout (failures 1) -> side -> main again (reset) -> timeout (1 again, not 2) -> side
    t = run(LOOP, {"caller": ["timeout", "1", "timeout", "timeout"]})
    assert [e["text"] for e in ev(t, "say")] == ["main", "side", "main", "side"]


def test_R2_replaying_the_same_context_keeps_its_failures():
    t = run("""
        entry: main
        defaults: {max_failures: 2}
        contexts:
          main:
            options:
              start: [{play: {tts: "main"}}]
              "1": [{hangup: {}}]
    """, {"caller": ["timeout", "timeout", "timeout"]})
    assert brief(t)[-3:] == ["collect '' timeout", "hangup flow normal", "end hangup"]
    assert len(ev(t, "collect")) == 2


# -- R3 steps ---------------------------------------------------------------------------------------------

def test_R3_steps_run_in_order_and_false_when_skips():
    t = run("""
        entry: main
        contexts:
          main:
            options:
              start:
                - play: {tts: "one"}
                - {when: {var: {lang: fr}}, play: {tts: "deux"}}
                - play: {tts: "three"}
                - hangup: {}
    """)
    assert [e["text"] for e in ev(t, "say")] == ["one", "three"]


def test_R3_an_answered_transfer_ends_with_hangup_normal_when_the_bridge_ends():
    t = run("""
        entry: main
        contexts:
          main:
            options:
              start:
                - transfer: {to: ["+15551112222"]}
                - play: {tts: "never"}
    """, {"dial": {"*": {"status": "answer", "talk": 12}}})
    assert brief(t) == ["answer", "dial +15551112222 answered", "bridge", "hangup callee", "hangup flow normal",
                        "end hangup"]


def test_R3_a_failed_final_transfer_hangs_up_and_final_false_goes_on():
    flow = """
        entry: main
        contexts:
          main:
            options:
              start:
                - {FINAL transfer: {to: ["+15551112222"]}}
                - play: {tts: "still here, ${dial_status}"}
    """
    stops = run(flow.replace("FINAL ", ""), {"dial": {"*": "busy"}})
    goes_on = run(flow.replace("FINAL ", "final: false, "), {"dial": {"*": "busy"}})
    assert brief(stops)[-2:] == ["hangup flow normal", "end hangup"]
    assert "say still here, busy" in brief(goes_on)


# -- R4 after start ---------------------------------------------------------------------------------------

def test_R4_start_leads_to_the_collect_phase_only_with_key_options():
    with_keys = run(SALES, {"caller": ["1"]})
    without = run("entry: main\ncontexts: {main: {options: {start: [{play: {tts: 'Bye'}}]}}}")
    assert "collect '1' max_digits" in brief(with_keys)
    assert brief(without) == ["answer", "say Bye", "hangup flow normal", "end hangup"]


def test_R4_allow_any_dial_alone_collects():
    t = run("""
        entry: main
        contexts:
          main:
            digit_len: 3
            allow_any_dial: {pattern: "2\\\\d\\\\d", timeout_s: 15}
            options: {start: [{play: {tts: "Dial an extension."}}]}
    """, {"caller": ["205"], "dial": {"205": "answer"}})
    assert "dial 205 answered" in brief(t)
    assert ev(t, "dial")[0]["timeout"] == 15


# -- R5 collect phase -------------------------------------------------------------------------------------

DIGITS = """
entry: main
contexts:
  main:
    digit_len: 3
    timeout_ms: 5000
    inter_digit_timeout_ms: 2000
    terminator: "#"
    options:
      start: [{play: {tts: "Enter a code."}}]
      "1": [{play: {tts: "one"}}]
      "12": [{play: {tts: "twelve"}}]
      "123": [{play: {tts: "one two three"}}]
      "45": [{play: {tts: "forty five"}}]
"""


def test_R5_waiting_starts_after_the_prompts_and_the_inter_digit_timeout_ends_input():
    t = run(DIGITS, {"caller": ["12"]})
    prompt_end = ev(t, "say")[0]["t"]
    collect = ev(t, "collect")[0]
    assert (collect["digits"], collect["reason"]) == ("12", "timeout")
    assert collect["t"] == round(prompt_end + 2.0, 3)  # keys at once, then the 2 s inter-digit wait
    assert "say twelve" in brief(t)


def test_R5_stops_at_digit_len_and_at_the_terminator():
    full = run(DIGITS, {"caller": ["123"]})
    terminated = run(DIGITS, {"caller": ["1#"]})
    assert ev(full, "collect")[0]["digits"] == "123"
    assert (ev(terminated, "collect")[0]["digits"], ev(terminated, "collect")[0]["reason"]) == ("1", "finish_key")


def test_R5_an_exact_match_that_no_longer_key_extends_stops_at_once():
    t = run(DIGITS, {"caller": ["45"]})
    collect = ev(t, "collect")[0]
    assert (collect["digits"], collect["reason"]) == ("45", "match")
    assert collect["t"] == ev(t, "say")[0]["t"]  # no inter-digit wait


def test_R5_early_match_is_off_with_allow_any_dial():
    t = run(DIGITS.replace("terminator", "allow_any_dial: true\n    terminator"), {"caller": ["45"]})
    assert ev(t, "collect")[0]["reason"] == "timeout"


BARGE = """
entry: main
contexts:
  main:
    options:
      start:
        - play: {tts: "Welcome to the Acme company.", mode: MODE}
        - play: {tts: "Press 1 for sales."}
      "1": [{play: {tts: "Sales."}}]
"""


def test_R5_a_key_during_a_background_prompt_stops_it_and_skips_the_rest():
    t = run(BARGE.replace("MODE", "bg"), {"caller": [{"keys": "1", "at": 0.5}]})
    assert brief(t)[:4] == ["answer", "say Welcome to the Acme company. (interrupted)", "collect '1' max_digits",
                            "say Sales."]
    assert ev(t, "say")[0]["t"] == 0.5


def test_R5_keys_during_a_foreground_prompt_are_discarded():
    t = run(BARGE.replace("MODE", "fg"), {"caller": [{"keys": "1", "at": 0.5}, "hangup"]})
    assert brief(t)[:4] == ["answer", "say Welcome to the Acme company.", "say Press 1 for sales.",
                            "collect '' timeout"]


def test_R5_a_background_prompt_after_a_foreground_one_can_be_interrupted():
    t = run(BARGE.replace("MODE", "fg"), {"caller": [{"keys": "1", "at": 2.5}]})
    assert brief(t)[1:4] == ["say Welcome to the Acme company.", "say Press 1 for sales. (interrupted)",
                             "collect '1' max_digits"]


# -- R6 dispatch ------------------------------------------------------------------------------------------

def test_R6_an_exact_match_resets_the_failure_count():
    flow = """
        entry: main
        defaults: {max_failures: 2}
        contexts:
          main:
            options:
              start: [{play: {tts: "menu"}}]
              "1": [{goto: {context: main}}]
    """
    # timeout (1), "1" (reset to 0), timeout (1): still in the menu; without the reset it would end
    t = run(flow, {"caller": ["timeout", "1", "timeout", "hangup"]})
    assert brief(t)[-2:] == ["hangup caller", "end caller_hangup"]
    assert len(ev(t, "collect")) == 4


def test_R6_empty_input_runs_timeout_and_a_wrong_key_runs_invalid():
    flow = """
        entry: main
        contexts:
          main:
            max_failures: 0
            options:
              start: [{play: {tts: "menu"}}]
              "1": [{hangup: {}}]
              timeout: [{play: {tts: "nothing?"}}, {goto: {context: main}}]
              invalid: [{play: {tts: "wrong"}}, {goto: {context: main}}]
    """
    t = run(flow, {"caller": ["timeout", "7", "#", "1"]})
    assert [e["text"] for e in ev(t, "say")] == ["menu", "nothing?", "menu", "wrong", "menu", "wrong", "menu"]


def test_R6_any_dial_transfers_what_matches_and_rejects_the_rest():
    flow = """
        entry: main
        contexts:
          main:
            digit_len: 3
            allow_any_dial: {pattern: "2\\\\d\\\\d"}
            options:
              start: [{play: {tts: "extension?"}}]
              "0": [{play: {tts: "operator"}}]
              invalid: [{play: {tts: "no such extension"}}, {hangup: {}}]
    """
    dialled = run(flow, {"caller": ["250"], "dial": {"*": "answer"}})
    rejected = run(flow, {"caller": ["999"]})
    assert "dial 250 answered" in brief(dialled) and ev(dialled, "dial")[0]["timeout"] == 60
    assert "say no such extension" in brief(rejected) and not ev(rejected, "dial")


# -- R7 failures ------------------------------------------------------------------------------------------

def test_R7_max_failures_runs_exhausted_and_0_means_unlimited():
    flow = """
        entry: main
        defaults: {max_failures: MAX}
        contexts:
          main:
            options:
              start: [{play: {tts: "menu"}}]
              "1": [{hangup: {}}]
              exhausted: [{play: {tts: "goodbye"}}, {hangup: {cause: busy}}]
    """
    three = run(flow.replace("MAX", "3"), {"caller": ["timeout", "5", "timeout", "timeout"]})
    unlimited = run(flow.replace("MAX", "0"), {"caller": ["timeout"] * 6})
    assert brief(three)[-3:] == ["say goodbye", "hangup flow busy", "end hangup"]
    assert len(ev(three, "collect")) == 3
    assert len(ev(unlimited, "collect")) == 7 and brief(unlimited)[-1] == "end caller_hangup"


def test_R7_default_exhausted_hangs_up_after_three_failures():
    t = run(SALES, {"caller": ["9", "9", "9", "1"]})
    assert len(ev(t, "collect")) == 3 and brief(t)[-2:] == ["hangup flow normal", "end hangup"]


# -- R8, R9 -----------------------------------------------------------------------------------------------

def test_R8_a_key_option_falls_through_to_hangup_normal():
    t = run(SALES, {"caller": ["1"]})
    assert brief(t)[-3:] == ["say Sales.", "hangup flow normal", "end hangup"]


def test_R9_goto_an_option_runs_it_directly_without_collecting():
    t = run("""
        entry: main
        contexts:
          main:
            options:
              start: [{goto: {context: other, option: "7"}}]
          other:
            options:
              start: [{play: {tts: "never played"}}]
              "7": [{play: {tts: "seven"}}]
    """)
    assert brief(t) == ["answer", "say seven", "hangup flow normal", "end hangup"]


# -- R10 lifetime -----------------------------------------------------------------------------------------

LIFETIME = """
entry: main
lifetime_s: 10
ON
contexts:
  main:
    options:
      start: [{play: {tts: "Press 1."}}]
      "1": [{transfer: {to: ["+15551112222"]}}]
"""


def test_R10_lifetime_interrupts_the_call_once_and_runs_on_lifetime():
    t = run(LIFETIME.replace("ON", "on_lifetime: [{play: {tts: 'Time is up.'}}, {transfer: {to: ['100']}}]"),
            {"caller": ["timeout", "timeout", "timeout"], "dial": {"100": "answer"}})
    assert at(t, "lifetime_expired") == [10.0]
    assert "say Time is up." in brief(t) and "dial 100 answered" in brief(t)


def test_R10_default_on_lifetime_hangs_up():
    t = run(LIFETIME.replace("ON", ""), {"caller": ["timeout"] * 5})
    assert brief(t)[-3:] == ["lifetime_expired", "hangup flow normal", "end hangup"]


def test_R10_lifetime_no_longer_applies_once_a_transfer_is_answered():
    t = run(LIFETIME.replace("ON", ""), {"caller": ["1"], "dial": {"*": {"status": "answer", "talk": 60}}})
    assert not ev(t, "lifetime_expired")
    assert ev(t, "bridge")[0]["duration"] == 60


# -- R11, R12 ---------------------------------------------------------------------------------------------

def test_R11_a_caller_hangup_ends_the_flow_at_once():
    t = run(SALES, {"caller": ["hangup"]})
    assert brief(t) == ["answer", "collect '' hangup", "hangup caller", "end caller_hangup"]


def test_R12_variables_are_text_unset_reads_empty_and_builtins_are_not_traced():
    t = run("""
        entry: main
        vars: {lang: en}
        contexts:
          main:
            options:
              start:
                - play: {tts: "[${lang}] [${missing}] [${caller_id_number}] [${called_number}] [${ivr}] [${context}]"}
                - collect: {var: pin, max_digits: 4}
                - play: {tts: "pin ${pin}, digits ${digits}, call ${call_id}"}
    """, {"caller": ["1234"], "call": {"from": "+15550001111", "to": "+15559998888", "id": "c-1"}})
    assert ev(t, "say")[0]["text"] == "[en] [] [+15550001111] [+15559998888] [t] [main]"
    assert ev(t, "say")[1]["text"] == "pin 1234, digits 1234, call c-1"
    assert [e["name"] for e in ev(t, "set")] == ["pin"]  # `digits` and the bookkeeping are silent


def test_R12_values_in_urls_are_percent_encoded():
    t = run("""
        entry: main
        contexts:
          main:
            options:
              start: [{webhook: {url: "https://crm.example.com/?who=${caller_id_number}&name=${caller_id_name}"}}]
    """, {"call": {"from": "+1 555", "from_name": "Ann & Bob"}})
    assert ev(t, "http")[0]["url"] == "https://crm.example.com/?who=%2B1%20555&name=Ann%20%26%20Bob"


def test_R12_builtins_are_read_only():
    found = problems("""
        entry: main
        contexts: {main: {options: {start: [{set_var: {digits: "1"}}]}}}
    """)
    assert [(d.code, d.span.line) for d in found] == [("E_IVR_READONLY", 4)]


# -- R13, R14 ---------------------------------------------------------------------------------------------

def test_R13_intervals_are_tested_when_the_step_runs_start_inclusive_end_exclusive():
    flow = """
        entry: main
        intervals: {day: {timezone: UTC, conditions: [{time: "09:00-17:00"}]}}
        contexts:
          main:
            options:
              start:
                - silence: {ms: 20000}
                - {when: {interval: day}, play: {tts: "open"}}
                - {when: {not: {interval: day}}, play: {tts: "closed"}}
    """
    def said(at: str) -> str:
        return ev(run(flow, {"call": {"at": at}}), "say")[0]["text"]

    assert said("2026-03-31T08:59:40Z") == "open"      # tested 20 s later, at 09:00:00 (inclusive)
    assert said("2026-03-31T08:59:39Z") == "closed"
    assert said("2026-03-31T16:59:39Z") == "open"
    assert said("2026-03-31T16:59:40Z") == "closed"    # 17:00:00 is past the end (exclusive)


def test_R14_the_same_flow_and_scenario_give_the_same_transcript():
    scenario = {"caller": ["9", {"keys": "1", "at": 0.3}], "dial": {"*": "answer"}}
    first, second = run(SALES, scenario), run(SALES, scenario)
    assert first.to_jsonl() == second.to_jsonl()


def test_compiled_menus_keep_the_authors_lines_on_their_states():
    flow = menu(SALES)
    assert flow.states["main:1"].span.line == 8
    assert flow.dialect == "ivr" and flow.meta["ivr"]["name"] == "t"
