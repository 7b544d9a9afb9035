from flowengine.diagnostics import Diagnostic, DiagnosticBag, Span, did_you_mean, render_all
from flowengine.errors import FlowError

SOURCE = 'line one\n  "op": "sya",\nline three\n'


def test_render_with_source_line_caret_and_hint():
    diag = Diagnostic("E_UNKNOWN_OP", "unknown op 'sya'", Span("f.flow.json", 2, 9), hint="ops: say, play")
    assert diag.render(SOURCE).splitlines() == [
        "f.flow.json:2:9: error[E_UNKNOWN_OP]: unknown op 'sya'",
        '     2 |   "op": "sya",',
        "       |         ^",
        "  = hint: ops: say, play",
    ]


def test_render_without_span_uses_the_file():
    assert Diagnostic("E_IO", "file not found", file="x.xml").render() == "x.xml: error[E_IO]: file not found"


def test_render_all_limits_the_output():
    diags = [Diagnostic("E_X", f"problem {i}", Span("f", i + 1, 1)) for i in range(25)]
    text = render_all(diags, limit=20)
    assert text.splitlines()[-1] == "… and 5 more" and text.count("error[E_X]") == 20


def test_did_you_mean():
    assert did_you_mean("Gahter", ["Gather", "Say"]) == "; did you mean 'Gather'?"
    assert did_you_mean("zzz", ["Gather"]) == ""


def test_bag_collects_then_raises():
    bag = DiagnosticBag()
    bag.warning("W_X", "just a warning")
    bag.raise_if_errors()
    bag.error("E_X", "an error", Span("f", 3, 4))
    try:
        bag.raise_if_errors()
    except FlowError as exc:
        assert [d.code for d in exc.diagnostics] == ["W_X", "E_X"]
        assert "f:3:4: error[E_X]: an error" in str(exc)
    else:
        raise AssertionError("expected FlowError")


def test_json_form():
    diag = Diagnostic("E_X", "m", Span("f", 1, 2), "warning", "h")
    assert diag.to_json() == {"code": "E_X", "severity": "warning", "message": "m", "file": "f", "line": 1,
                              "col": 2, "hint": "h"}


def test_a_long_source_line_is_cut_around_the_column():

    source = "<Response><Say>" + "x" * 200_000 + "</Say><Foo/></Response>"
    column = source.index("<Foo") + 1
    rendered = Diagnostic("E_UNKNOWN_VERB", "unknown element <Foo>", Span("l.xml", 1, column)).render(source)
    _, excerpt, caret = rendered.splitlines()
    assert len(excerpt) < 120 and excerpt.startswith("     1 | …x") and excerpt.endswith("</Say><Foo/></Response>")
    assert excerpt[caret.index("^"):].startswith("<Foo/>")
    short = Diagnostic("E_X", "m", Span("f", 1, 3)).render("abcdef")
    assert short.splitlines()[1:] == ["     1 | abcdef", "       |   ^"]
