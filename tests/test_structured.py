import pytest

from flowengine.errors import FlowError
from flowengine.structured import load


def first(exc: pytest.ExceptionInfo) -> str:
    return exc.value.diagnostics[0].render()


def test_yaml12_keeps_yes_no_on_off_as_strings():
    doc = load("a: yes\nb: no\nc: on\nd: off\ne: true\n", "f.yaml")
    assert doc.data == {"a": "yes", "b": "no", "c": "on", "d": "off", "e": True}


def test_timestamps_stay_as_written():
    doc = load("at: 2026-03-31T09:15:00Z\nday: 2025-01-01\n", "f.yaml")
    assert doc.data == {"at": "2026-03-31T09:15:00Z", "day": "2025-01-01"}


def test_duplicate_key_is_an_error_with_its_line():
    with pytest.raises(FlowError) as exc:
        load("a: 1\nb: 2\na: 3\n", "f.yaml")
    diag = exc.value.diagnostics[0]
    assert diag.code == "E_DUPLICATE_KEY"
    assert diag.span.file == "f.yaml" and diag.span.line == 3
    assert "duplicate key" in diag.message and '"a"' in diag.message


def test_positions_of_values_and_keys():
    doc = load("top:\n  items:\n    - x\n    - {k: v}\n", "f.yaml")
    assert (doc.span(("top", "items", 1)).line, doc.span(("top", "items", 1)).col) == (4, 7)
    assert doc.span(("top", "items"), key=True).line == 2
    assert doc.span(("top", "items", 1, "missing")).line == 4  # nearest known ancestor


def test_unknown_tags_are_refused():
    with pytest.raises(FlowError) as exc:
        load("a: !!python/object:os.system echo\n", "f.yaml")
    assert "E_YAML" in first(exc)


def test_alias_expansion_bomb_is_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i, name in enumerate("bcdefgh"):
        prev = "abcdefgh"[i]
        bomb += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]\n"
    with pytest.raises(FlowError) as exc:
        load(bomb, "bomb.yaml")
    assert exc.value.diagnostics[0].code == "E_TOO_LARGE"


def test_depth_limit():
    deep = "[" * 100 + "]" * 100
    with pytest.raises(FlowError) as exc:
        load(deep, "deep.yaml", max_depth=64)
    assert exc.value.diagnostics[0].code == "E_TOO_DEEP"


def test_size_limit():
    with pytest.raises(FlowError) as exc:
        load("a: " + "x" * 200, "big.yaml", max_bytes=100)
    assert exc.value.diagnostics[0].code == "E_TOO_LARGE"


def test_strict_json_error_has_line_and_column():
    with pytest.raises(FlowError) as exc:
        load('{\n  "a": 1,\n  "b": ,\n}', "f.json", json_only=True)
    diag = exc.value.diagnostics[0]
    assert diag.code == "E_JSON" and (diag.span.line, diag.span.col) == (3, 8)


def test_json_nan_is_refused():
    with pytest.raises(FlowError):
        load('{"a": NaN}', "f.json", json_only=True)


def test_yaml_syntax_error_is_a_diagnostic():
    with pytest.raises(FlowError) as exc:
        load("a: [1, 2\nb: 3\n", "f.yaml")
    assert exc.value.diagnostics[0].code == "E_YAML"
    assert exc.value.diagnostics[0].span.line >= 1
