"""`flowengine validate` shows the warnings a compiler left on a valid flow."""

import json

from flowengine.cli import main


def test_validate_prints_warnings_of_a_valid_flow(tmp_path, capsys):
    path = tmp_path / "w.xml"
    path.write_text('<Response>\n  <Say lang="en">Hi</Say>\n</Response>\n')
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert f"{path}: ok (inboundxml" in out
    assert f"{path}:2:8: warning[W_UNKNOWN_ATTR]: <Say> has no attribute 'lang'" in err
    assert main(["validate", "--format", "json", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report[0]["ok"] is True and report[0]["diagnostics"][0]["code"] == "W_UNKNOWN_ATTR"
