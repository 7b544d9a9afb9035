"""`flowengine import` (PBX / Ytel / FreeSWITCH -> unified IVR YAML) and `flowengine simulate --report`."""

from __future__ import annotations

import json
from pathlib import Path

from flowengine.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "formats" / "ivr" / "fixtures"


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_import_writes_yaml_that_loads_and_runs_like_the_source(capsys, tmp_path):
    target = tmp_path / "menu.ivr.yaml"
    code, out, err = cli(capsys, "import", FIXTURES / "acme.pbx.json", "-o", target)
    assert code == 0 and out == "" and "menu.ivr.yaml: 2 contexts (pbx → ivr)" in err
    assert "warning[W_IVR_IGNORED]" in err  # simple_transfer's `simple` has nothing to skip here
    text = target.read_text()
    assert text.startswith("kind: ivr\nversion: 1\nname: pbx-201\n") and '      "2":\n' in text
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps({"caller": ["2", {"record": 2}], "dial": {"*": "no-answer"}}))
    _, direct, _ = cli(capsys, "simulate", FIXTURES / "acme.pbx.json", "-s", scenario)
    _, imported, _ = cli(capsys, "simulate", target, "-s", scenario)
    assert direct == imported and '"op": "record"' in direct


def test_import_prints_to_stdout_and_reads_each_source(capsys):
    for name, head in (("seed.ytel.json", "name: new-ivr"), ("ivr.conf.xml", "name: fs-demo-ivr")):
        code, out, _ = cli(capsys, "import", FIXTURES / name)
        assert code == 0 and head in out


def test_import_names_the_freeswitch_entry_menu(capsys):
    code, out, _ = cli(capsys, "import", FIXTURES / "ivr.conf.xml", "--entry", "demo_ivr_submenu")
    assert code == 0 and "entry: demo_ivr_submenu" in out


def test_import_reports_source_problems_with_their_line(capsys, tmp_path):
    bad = tmp_path / "bad.pbx.json"
    data = json.loads((FIXTURES / "acme.pbx.json").read_text())
    data["rules"]["10"]["1"][0]["action"] = "jump_to_contxt"
    bad.write_text(json.dumps(data, indent=1))
    code, out, err = cli(capsys, "import", bad)
    assert code == 1 and out == ""
    assert "bad.pbx.json:" in err and "error[E_PBX]: unknown rule action 'jump_to_contxt'" in err
    assert "Traceback" not in err


def test_import_refuses_a_flow_that_is_not_an_importer_source(capsys):
    code, _, err = cli(capsys, "import", ROOT / "flows" / "nested-menus.ivr.yaml")
    assert code == 2 and "import reads pbx, ytel-ivr, fs-ivr" in err


def test_simulate_report_prints_the_ivr_record(capsys, tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text('call: {at: "2026-03-31T08:15:00Z"}\ncaller: ["1"]\ndial: {"*": answer}\n')
    code, out, err = cli(capsys, "simulate", ROOT / "flows" / "business-hours.ivr.yaml", "-s", scenario, "--report")
    assert code == 0 and err == ""
    record = json.loads(out)
    assert record == {
        "ivr": "acme-hours", "call_id": "00000000-0000-4000-8000-000000000001",
        "started_at": "2026-03-31T08:15:00Z", "ivr_duration_s": 5.2, "path": ["main:start", "office:start", "office:1"],
        "inputs": ["1"], "attributes": {}, "outcome": "transferred_to_agent",
        "exit": {"type": "transfer", "target": "+15551112222"}}


def test_simulate_report_needs_an_ivr_flow(capsys):
    code, out, err = cli(capsys, "simulate", ROOT / "flows" / "demo-menu.flow.json", "--report")
    assert code == 2 and out == "" and "--report needs an IVR flow" in err
