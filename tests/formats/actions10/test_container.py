"""Reading scripts: bare YAML, CALLR's {format, script} container, YAML 1.2 rules, detection."""

import json

import pytest

from tests.formats.actions10._a10 import one_problem, script

from flowengine import formats
from flowengine.errors import FlowError
from flowengine.formats.actions10 import compile_script

SCRIPT = "branches:\n  inbound-call:\n    actions:\n      - action: say@v2\n        params: {what: Hi}\n"


@pytest.mark.parametrize("fmt", ["YAML", "yaml", "Yaml"])
def test_json_container_with_any_case_of_yaml(fmt):
    flow = compile_script(json.dumps({"format": fmt, "script": SCRIPT}), "app.json")
    assert flow.entry["inbound-call"] == "inbound-call.0"
    assert flow.states["inbound-call.0"].span.file == "app.json#script"
    assert flow.states["inbound-call.0"].span.line == 4


def test_rest_v2_scenario_object_is_a_container_too():
    doc = {"name": "x", "sid": "abc", "format": "yaml", "version": "1.0", "script": SCRIPT}
    assert compile_script(json.dumps(doc), "s.json").states


@pytest.mark.parametrize("doc, code", [
    ({"format": "JSON", "script": SCRIPT}, "E_FORMAT"),
    ({"script": SCRIPT}, "E_FORMAT"),
    ({"format": "YAML", "script": ""}, "E_SCRIPT_SIZE"),
    ({"format": "YAML", "script": "#" * 32769}, "E_SCRIPT_SIZE"),
    ({"format": "YAML", "script": 5}, "E_SCRIPT_SIZE"),
])
def test_container_errors(doc, code):
    with pytest.raises(FlowError) as info:
        compile_script(json.dumps(doc), "app.json")
    assert [d.code for d in info.value.diagnostics] == [code]


def test_a_script_of_exactly_32768_characters_is_accepted():
    text = SCRIPT + "#" * (32768 - len(SCRIPT))
    assert compile_script(json.dumps({"format": "YAML", "script": text}), "a.json")


def test_duplicate_keys_are_E_YAML_with_position():
    diag = one_problem("branches:\n  inbound-call: []\n  inbound-call: []\n")
    assert (diag.code, diag.span.line) == ("E_YAML", 3)


def test_yaml_1_2_yes_stays_text():
    diag = one_problem("defaults: {autoAnswer: yes}\nbranches: {inbound-call: {actions: []}}\n")
    assert diag.code == "E_PARAM_TYPE" and "yes" in diag.message


def test_an_unquoted_compat_date_is_that_dates_text():
    flow = script("compat:\n  version: 2025-09-01\nbranches: {inbound-call: {actions: []}}\n")
    assert flow.meta["compat"] == "2025-09-01"


def test_an_older_compat_date_warns():
    flow = script("compat: {version: '2024-01-01'}\nbranches: {inbound-call: {actions: []}}\n")
    assert [w["code"] for w in flow.meta["warnings"]] == ["W_COMPAT"]


def test_detection_by_suffix_and_by_content():
    assert formats.detect("x.actions.yaml", "").name == "actions10"
    assert formats.detect("x.actions10.json", "").name == "actions10"
    assert formats.get("actions10").sniff(SCRIPT, "x.yml")
    assert formats.get("actions10").sniff(json.dumps({"format": "YAML", "script": SCRIPT}), "x.json")
    assert not formats.get("actions10").sniff("call: {from: '+1'}\n", "x.yml")


def test_tabs_and_garbage_are_yaml_errors_not_tracebacks():
    for text in ("branches:\n\t- x", "branches: [", ": :", "!!python/object:os.system x"):
        with pytest.raises(FlowError) as info:
            compile_script(text, "g.actions.yaml")
        assert info.value.diagnostics[0].span is not None
