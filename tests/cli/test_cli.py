"""The command line: exit codes of the spec, diagnostics instead of tracebacks, the interactive call."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from flowengine.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "flows" / "demo-menu.flow.json")
DEMO_WORLD = str(ROOT / "flows" / "demo-menu.scenario.yaml")


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_prints_json_lines(capsys):
    code, out, err = cli(capsys, "simulate", DEMO, "-s", DEMO_WORLD)
    assert code == 0 and err == ""
    events = [json.loads(line) for line in out.splitlines()]
    assert events[0] == {"t": 0.0, "leg": "A", "op": "answer"} and events[-1]["op"] == "end"


def test_simulate_text_format(capsys):
    code, out, _ = cli(capsys, "simulate", DEMO, "--format", "text")
    assert code == 0 and '  1.067 A say "Welcome to Acme."' in out


def test_simulate_invalid_flow_exits_1(capsys, tmp_path):
    bad = tmp_path / "bad.flow.json"
    bad.write_text('{"entry": "a",\n "states": {"a": {"op": "sya", "text": "x"}}}')
    code, out, err = cli(capsys, "simulate", str(bad))
    assert code == 1 and out == ""
    assert f"{bad}:2:25: error[E_UNKNOWN_OP]: unknown op 'sya'; did you mean 'say'?" in err
    assert "Traceback" not in err


def test_simulate_invalid_scenario_exits_2(capsys, tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("caller: [\"1\"]\nhangup_at: soon\n")
    code, out, err = cli(capsys, "simulate", DEMO, "-s", str(scenario))
    assert code == 2 and f"{scenario}:2:12: error[E_SCENARIO]" in err


def test_simulate_missing_flow_and_bad_usage(capsys):
    assert cli(capsys, "simulate", "/no/such.flow.json")[0] == 1
    with pytest.raises(SystemExit) as exc:
        main(["simulate"])
    assert exc.value.code == 2


def test_unknown_format_is_explained(capsys, tmp_path):
    odd = tmp_path / "flow.txt"
    odd.write_text("hello")
    code, _, err = cli(capsys, "validate", str(odd))
    assert code == 1 and "error[E_FORMAT]" in err


def test_validate_ok_and_json_report(capsys, tmp_path):
    code, out, _ = cli(capsys, "validate", DEMO)
    assert code == 0 and out.startswith(f"{DEMO}: ok (ir, ")
    bad = tmp_path / "x.flow.json"
    bad.write_text('{"entry": "a", "states": {"a": {"op": "say"}}}')
    code, out, _ = cli(capsys, "validate", "--format", "json", DEMO, str(bad))
    report = json.loads(out)
    assert code == 1 and report[0]["ok"] and report[1]["diagnostics"][0]["code"] == "E_MISSING_FIELD"


def test_validate_garbage_never_tracebacks(capsys, tmp_path):
    for i, text in enumerate(["", "{", "[]", '{"states": 5}', "\x00\x01", '{"entry": 1, "states": {"a": []}}']):
        path = tmp_path / f"g{i}.flow.json"
        path.write_text(text)
        code, _, err = cli(capsys, "validate", str(path))
        assert code == 1 and "error[" in err and "Traceback" not in err


def test_compile_prints_ir_json(capsys, tmp_path):
    code, out, _ = cli(capsys, "compile", DEMO)
    assert code == 0 and json.loads(out)["flowengine"] == "ir/1"
    target = tmp_path / "out.json"
    assert cli(capsys, "compile", DEMO, "-o", str(target))[0] == 0 and json.loads(target.read_text())["name"] == "demo-menu"


def test_test_command_summary_line(capsys):
    code, out, _ = cli(capsys, "test", str(ROOT / "flows"))
    assert code == 0 and out.rstrip().splitlines()[-1].endswith("passed, 0 failed")


def test_test_command_reports_failures(capsys, tmp_path):
    (tmp_path / "f.flow.json").write_text(Path(DEMO).read_text())
    (tmp_path / "f.test.yaml").write_text(
        "flow: f.flow.json\ncases:\n  - name: wrong\n    scenario: {caller: [\"2\"]}\n"
        "    expect: [{op: queue, name: sales}]\n  - name: right\n    scenario: {caller: [\"2\"]}\n"
        "    expect: [{op: queue, name: support}]\n")
    code, out, _ = cli(capsys, "test", str(tmp_path))
    assert code == 1
    assert "FAIL" in out and "expected event #1" in out and out.rstrip().endswith("1 passed, 1 failed")


def test_call_with_scripted_keys(capsys):
    code, out, _ = cli(capsys, "call", DEMO, "-s", DEMO_WORLD, "--keys", "9,1")
    assert code == 0
    assert "> waiting for keys: up to 1 digit, timeout 5s, # to finish" in out
    assert '(hears say "Press 1 for sales, 2 for support, or 0 for the operator.")' in out
    assert "dial +15551112222 timeout=20 -> answered" in out


def test_call_reads_keys_from_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("2\n"))
    code, out, _ = cli(capsys, "call", DEMO, "-s", DEMO_WORLD)
    assert code == 0 and "< 2" in out and "queue support -> timeout" in out


def test_call_rejects_bad_scripted_keys(capsys):
    code, _, err = cli(capsys, "call", DEMO, "--keys", "1,banana")
    assert code == 2 and "not keys" in err
    for length in ("inf", "nan", "-5", "1e308"):
        code, _, err = cli(capsys, "call", DEMO, "--keys", f"1,record:{length}")
        assert code == 2 and f"a recording lasts 0 to 1000000000 seconds, not {length}" in err


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "flowengine", "simulate", DEMO, "--format", "text"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0 and result.stdout.rstrip().endswith("end caller_hangup")


@pytest.mark.parametrize("command", [["graph", DEMO], ["compile", DEMO],
                                     ["test", str(ROOT / "flows" / "demo-menu.test.yaml"), "--coverage-html"]])
def test_unwritable_output_is_a_usage_error_not_a_traceback(capsys, tmp_path, command):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    targets = [str(tmp_path / "missing" / "out"), str(tmp_path)] if command[0] != "test" else [str(blocker)]
    for target in targets:
        argv = command + [target] if command[0] == "test" else command + ["-o", target]
        code, _, err = cli(capsys, *argv)
        assert code == 2, err
        assert err.startswith(f"{target}: error[E_OUTPUT]: cannot write") and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"] and blocker.read_text() == "keep me"


def test_output_file_is_written_whole(capsys, tmp_path):
    target = tmp_path / "demo.dot"
    code, out, _ = cli(capsys, "graph", DEMO, "-o", str(target))
    assert code == 0 and out == "" and target.read_text().startswith("digraph")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.dot"]


@pytest.mark.parametrize("command", ["validate", "lint", "compile", "graph", "simulate", "call"])
def test_unknown_dialect_is_bad_usage(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([command, DEMO, "--dialect", "inboundxm"])
    _, err = capsys.readouterr()
    assert info.value.code == 2
    assert "argument --dialect: unknown format 'inboundxm'; did you mean 'inboundxml'?" in err


def test_no_flow_test_files_is_not_a_pass(capsys, tmp_path):
    code, out, err = cli(capsys, "test", str(tmp_path))
    assert code == 2 and out == "0 passed, 0 failed\n"
    assert err == f"flowengine test: no flow test files (*.test.yaml) under {tmp_path}\n"


def test_validate_a_url_flow_says_nothing_was_fetched(capsys):
    code, out, _ = cli(capsys, "validate", "https://app.example.com/voice.xml")
    assert code == 0
    assert out == ("https://app.example.com/voice.xml: ok (inboundxml from a URL: its documents are compiled "
                   "when a call fetches them; validate a saved copy to check one)\n")
