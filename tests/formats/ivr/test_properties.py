"""Properties: random menus with random callers always end; importing then loading changes nothing."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flowengine import formats
from flowengine.errors import FlowError
from flowengine.formats.ivr import build, load_menu
from flowengine.formats.ivr.menu import Menu
from flowengine.formats.ivr.writer import dump_menu
from flowengine.structured import Document
from flowengine.testing.runner import simulate

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = st.sampled_from(["1", "2", "3", "9", "0", "*", "#", "12", "21"])
CONTEXTS = ["main", "sales", "help"]


def step_strategy(context_names: list[str]):
    target = st.sampled_from(context_names)
    return st.one_of(
        st.builds(lambda text: {"play": {"tts": text}}, st.sampled_from(["hello", "press a key", "goodbye"])),
        st.builds(lambda text, mode: {"play": {"tts": text, "mode": mode}}, st.just("menu"), st.sampled_from(["bg", "fg"])),
        st.builds(lambda ms: {"silence": {"ms": ms}}, st.integers(100, 2000)),
        st.builds(lambda c: {"goto": {"context": c}}, target),
        st.just({"hangup": {}}),
        st.builds(lambda final: {"final": final, "transfer": {"to": ["101"]}}, st.booleans()),
        st.builds(lambda final: {"final": final, "queue": {"name": "q"}}, st.booleans()),
        st.just({"set_var": {"seen": "yes"}}),
        st.just({"collect": {"var": "code", "max_digits": 2}}),
        st.builds(lambda when, text: {"when": when, "play": {"tts": text}},
                  st.sampled_from([{"var": {"seen": "yes"}}, {"repeat": True}, {"caller_id": "anonymous"}]),
                  st.just("conditional")),
    )


@st.composite
def menus(draw):
    names = CONTEXTS[: draw(st.integers(1, 3))]
    contexts = {}
    for name in names:
        options = {"start": draw(st.lists(step_strategy(names), max_size=3))}
        for key in draw(st.lists(KEYS, max_size=4, unique=True)):
            options[key] = draw(st.lists(step_strategy(names), max_size=3))
        if draw(st.booleans()):
            options["timeout"] = draw(st.lists(step_strategy(names), max_size=2))
        contexts[name] = {"digit_len": 2, "max_failures": draw(st.integers(0, 3)), "options": options}
    return {"kind": "ivr", "version": 1, "entry": "main", "contexts": contexts}


callers = st.lists(st.one_of(KEYS, st.sampled_from(["timeout", "hangup"]),
                             st.builds(lambda k, at: {"keys": k, "at": at}, KEYS, st.floats(0, 3))), max_size=8)
worlds = st.fixed_dictionaries({
    "caller": callers,
    "dial": st.fixed_dictionaries({"*": st.sampled_from(["answer", "busy", "no-answer", "failed"])}),
    "queue": st.fixed_dictionaries({"*": st.sampled_from(["answered", "answered/agent_hangup", "timeout", "no_agents"])}),
    "limits": st.just({"max_time": 900}),
})


@FAST
@given(menus(), worlds)
def test_random_menus_with_random_callers_always_end(data, world):
    text = dump_menu(data)
    try:
        flow = build(load_menu(text, "random.ivr.yaml"))
    except FlowError as exc:
        codes = {d.code for d in exc.diagnostics if d.is_error}
        assert codes <= {"E_IVR_LOOP"}, [d.render() for d in exc.diagnostics]
        assume(False)
    t = simulate(flow, world)
    assert t.events[-1]["op"] == "end"
    assert not any(e["op"] == "error" and e["code"] == "E_MAX_STEPS" for e in t.events)
    # a flow that ran out of time ends the call itself; anything else ended by a hang-up or the caller
    assert t.events[-1]["reason"] in ("hangup", "caller_hangup", "error", "flow_end")


def _same_run(source_text: str, filename: str, world: dict) -> None:
    """Loading `source_text` and loading what `flowengine import` writes from it run identically."""
    fmt = formats.detect(filename, source_text)
    try:
        menu, flow = fmt.convert(source_text, filename)
    except FlowError:
        assume(False)
    imported = build(load_menu(dump_menu(menu.data), "imported.ivr.yaml"))
    direct, again = simulate(flow, world), simulate(imported, world)
    strip = lambda events: [{k: v for k, v in e.items() if k != "source"} for e in events]  # noqa: E731
    assert strip(direct.events) == strip(again.events)
    assert [s[1] for s in direct.steps] == [s[1] for s in again.steps]


@st.composite
def pbx_exports(draw):
    ids = [10, 11, 12][: draw(st.integers(1, 3))]
    rule = st.one_of(
        st.just({"action": "play_sound", "sound": 1, "sound_type": "background"}),
        st.just({"action": "play_sound", "sound": 2, "sound_type": "foreground"}),
        st.builds(lambda c: {"action": "jump_to_context", "context": c}, st.sampled_from(ids)),
        st.just({"action": "hangup", "hangup_cause": "busy"}),
        st.builds(lambda f: {"action": "transfer", "transfer_dst": "101 102", "transfer_timeout": 15, "final": f},
                  st.booleans()),
        st.just({"action": "play_silence", "silence_time": 700}),
        st.just({"action": "set_variable", "set_variable_name": "lang", "set_variable_value": "fr"}),
        st.just({"action": "play_digits", "digits": "42", "play_digits_method": "pronounced"}),
        st.just({"action": "play_sound", "sound": 1, "interval": 7}),
        st.just({"action": "hangup", "call_status": "busy"}),
    )
    options, rules = {}, {}
    for cid in ids:
        keys = draw(st.lists(st.sampled_from(["1", "2", "3", "#"]), max_size=3, unique=True))
        options[str(cid)] = [{"digits": "start"}] + [{"digits": k} for k in keys]
        rules[str(cid)] = {k: draw(st.lists(rule, max_size=3)) for k in ["start"] + keys}
    return {
        "extension_id": "77",
        "ivr": {"entry_context": ids[0], "lifetime": draw(st.sampled_from([None, 30])), "vm_enabled": False},
        "contexts": [{"id": cid, "name": f"Ctx {cid}", "timeout": 3000, "inter_digit_timeout": 1000, "digit_len": 1}
                     for cid in ids],
        "options": options, "rules": rules,
        "intervals": [{"id": 7, "name": "Weekdays", "timezone": "Europe/Berlin",
                       "conditions": [{"start_dow": 2, "end_dow": 6}]}],
        "sounds": [{"id": 1, "title": "Hello", "filename": "hello.wav"}, {"id": 2, "title": "Menu", "filename": "menu.wav"}],
    }


@FAST
@given(pbx_exports(), worlds)
def test_importing_a_pbx_export_then_loading_it_runs_like_the_export(export, world):
    _same_run(json.dumps(export, indent=1), "random.pbx.json", world)


@st.composite
def ytel_ivrs(draw):
    menu_ids = ["Main", "Second"]
    action = st.one_of(st.builds(lambda v: {"type": "say", "value": v}, st.sampled_from(["hi", "bye"])),
                       st.just({"type": "play", "value": "https://cdn.example.com/a.wav"}),
                       st.just({"type": "dial", "value": "+15551112222"}))
    terminal = st.one_of(st.just([]), st.just([{"type": "hangup"}]),
                         st.builds(lambda m: [{"type": "nextMenu", "value": m}], st.sampled_from(menu_ids)))
    menus = []
    for index, menu_id in enumerate(menu_ids):
        keys = draw(st.lists(st.integers(0, 9), max_size=3, unique=True))
        menus.append({"menuId": menu_id, "say": f"{menu_id} menu", "play": "", "entry": index == 0, "options": [
            {"say": f"option {k}", "dtmfKey": k, "actions": draw(st.lists(action, max_size=2)) + draw(terminal)}
            for k in keys]})
    return {"ivrName": "rand", "configurationOptions": {"ttsVoice": "en-us-standard-male-1", "maxAttempts":
            draw(st.integers(1, 3)), "timeout": 2, "minDigits": 1, "maxDigits": 1,
            "say": draw(st.sampled_from([None, "Welcome"]))}, "version": 1, "menus": menus}


@FAST
@given(ytel_ivrs(), worlds)
def test_importing_a_ytel_ivr_then_loading_it_runs_like_the_source(ivr, world):
    _same_run(json.dumps(ivr, indent=1), "random.ytel.json", world)


@st.composite
def fs_configs(draw):
    entries = st.sampled_from([
        '<entry action="menu-sub" digits="D" param="sub"/>', '<entry action="menu-back" digits="D"/>',
        '<entry action="menu-top" digits="D"/>', '<entry action="menu-exit" digits="D"/>',
        '<entry action="menu-play-sound" digits="D" param="say:sound D"/>',
        '<entry action="menu-exec-app" digits="D" param="bridge user/1001"/>',
        '<entry action="menu-exec-app" digits="D" param="transfer 2000 XML default"/>',
    ])
    menus = []
    for name in ("main", "sub"):
        keys = draw(st.lists(st.sampled_from(["1", "2", "*", "00"]), max_size=3, unique=True))
        lines = [draw(entries).replace('"D"', f'"{k}"').replace("sound D", f"sound {k}") for k in keys]
        attrs = (f'greet-long="say:{name} long" timeout="2000" max-failures="{draw(st.integers(1, 3))}"'
                 + draw(st.sampled_from(["", f' greet-short="say:{name} short"']))
                 + draw(st.sampled_from(["", ' invalid-sound="bad.wav"', ' exit-sound="bye.wav"']))
                 + draw(st.sampled_from(["", ' max-timeouts="1"', ' digit-len="2"'])))
        menus.append(f'<menu name="{name}" {attrs}>' + "".join(lines) + "</menu>")
    return f'<configuration name="ivr.conf"><menus>{"".join(menus)}</menus></configuration>'


@FAST
@given(fs_configs(), worlds)
def test_importing_freeswitch_menus_then_loading_them_runs_like_the_source(config, world):
    _same_run(config, "ivr.conf.xml", world)


def test_writer_quotes_keys_and_ambiguous_strings():
    data = {"kind": "ivr", "version": 1, "entry": "main", "vars": {"flag": "on", "count": "010"},
            "contexts": {"main": {"options": {"1": [{"set_var": {"a": "yes"}}], "#": [], "start": []}}}}
    text = dump_menu(data)
    assert '"1":' in text and '"#":' in text and 'flag: "on"' in text and 'count: "010"' in text
    assert load_menu(text, "x.ivr.yaml").data == data
    assert isinstance(Menu(data, Document("x", "", data)).name, str)
