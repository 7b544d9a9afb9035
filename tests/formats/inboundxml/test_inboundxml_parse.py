"""Parsing InboundXML as the platforms do, safely: names in any case, limits, positions, diagnostics."""

import pytest

from flowengine import formats
from flowengine.errors import FlowError
from flowengine.formats.inboundxml import InboundXML
from flowengine.formats.inboundxml.parse import MAX_BYTES, MAX_DEPTH

from tests.formats.inboundxml.ixml import compile_xml, events, one_error, problems, run_xml, warnings_of

# -- names and values in any case (D9, D12) ------------------------------------------------------------


def test_element_and_attribute_names_are_case_insensitive():
    flow = compile_xml('<response><SAY LOOP="2" Voice="WOMAN">Hi</SAY><hangup></hangup></response>')
    say = flow.states["1-say"].op
    assert (say.kind, say.loop, say.voice, say.text) == ("say", 2, "woman", "Hi")
    assert flow.states["2-hangup"].op.kind == "hangup"


@pytest.mark.parametrize("written,expected", [
    ("True", True), ("true", True), ("TRUE", True), ("1", True),
    ("False", False), ("false", False), ("FALSE", False), ("0", False),
])
def test_booleans_in_every_spelling_of_the_zang_xsd(written, expected):
    flow = compile_xml(f'<Response><Dial hideCallerId="{written}">+15551112222</Dial></Response>')
    assert (flow.states["1-dial"].op.caller_id == "anonymous") is expected


@pytest.mark.parametrize("method", ["GET", "get", "Get", "POST", "post", "Post"])
def test_methods_in_any_case(method):
    flow = compile_xml(f"<Response><Redirect method='{method}'>https://example.com/next</Redirect></Response>")
    assert flow.states["1-redirect.fetch"].op.method == method.upper()


def test_reject_reason_in_any_case():
    for written in ("BUSY", "busy", "Busy"):
        flow = compile_xml(f'<Response><Reject reason="{written}"/></Response>')
        assert flow.states["1-reject"].op.reason == "busy"


def test_whitespace_comments_and_instructions_between_verbs_are_ignored():
    t = run_xml("<Response>\n\n  <!-- greeting -->\n  <Say>Hi</Say>\n  <?other thing?>\n\t<Say>Bye</Say>\n</Response>")
    assert [e["text"] for e in events(t, "say")] == ["Hi", "Bye"]


def test_say_text_whitespace_is_collapsed():
    flow = compile_xml("<Response><Say>\n   Hello\n      there   </Say></Response>")
    assert flow.states["1-say"].op.text == "Hello there"


def test_xml_declaration_and_bom_are_accepted_and_positions_still_hold():
    text = '\ufeff<?xml version="1.0" encoding="UTF-8"?>\n<Response>\n  <Say>Hi</Say>\n</Response>'
    flow = compile_xml(text)
    span = flow.states["1-say"].span
    assert (span.line, span.col) == (3, 3)


def test_positions_on_a_one_line_document_point_at_each_verb():
    text = "<Response><Say>A</Say><Play>https://x.example/a.wav</Play><Say>B</Say></Response>"
    flow = compile_xml(text)
    assert [(flow.states[s].span.line, flow.states[s].span.col) for s in ("1-say", "2-play", "3-say")] == \
        [(1, 11), (1, 23), (1, 59)]


def test_positions_when_a_start_tag_spans_lines():
    flow = compile_xml('<Response>\n  <Say\n     loop="2">Hi</Say>\n  <Pause/>\n</Response>')
    assert (flow.states["1-say"].span.line, flow.states["1-say"].span.col) == (2, 3)
    assert flow.states["2-pause"].span.line == 4


# -- safety --------------------------------------------------------------------------------------------


def test_malformed_xml_is_one_diagnostic_with_line_and_column():
    d = one_error("<Response>\n  <Say>Hi</Sya>\n</Response>")
    assert d.code == "E_XML_SYNTAX"
    assert (d.span.line, d.span.col) == (2, 16)  # libxml2 points just past the bad end tag
    assert "mismatch" in d.message


def test_entity_bomb_is_refused_without_expansion():
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
            + ']><Response><Say>&lol9;</Say></Response>')
    d = one_error(bomb)
    assert d.code == "E_XML_DOCTYPE"


def test_external_entities_are_refused():
    d = one_error('<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><Response><Say>&x;</Say></Response>')
    assert d.code == "E_XML_DOCTYPE"
    d = one_error('<!DOCTYPE Response SYSTEM "http://evil.example/x.dtd"><Response/>')
    assert d.code == "E_XML_DOCTYPE"


def test_an_undeclared_entity_is_a_syntax_error_naming_the_allowed_ones():
    d = one_error("<Response><Say>&nbsp;</Say></Response>")
    assert d.code == "E_XML_SYNTAX" and "&amp;" in d.message


def test_predefined_entities_and_character_references_are_fine():
    flow = compile_xml("<Response><Say>Tom &amp; Jerry &#38; &lt;friends&gt;</Say></Response>")
    assert flow.states["1-say"].op.text == "Tom & Jerry & <friends>"


def test_size_limit():
    text = "<Response>" + "<Pause/>" * (MAX_BYTES // 8) + "</Response>"
    d = one_error(text)
    assert d.code == "E_TOO_LARGE"


def test_depth_limit_of_the_parser():
    deep = "<Response><Say type='ssml'>" + "<p>" * 300 + "x" + "</p>" * 300 + "</Say></Response>"
    d = one_error(deep)
    assert d.code == "E_XML_SYNTAX" and "deep" in d.message


def test_depth_limit_of_our_own():
    deep = "<Response>" + "<Gather>" * (MAX_DEPTH + 2) + "</Gather>" * (MAX_DEPTH + 2) + "</Response>"
    codes = {d.code for d in problems(deep)}
    assert "E_XML_DEPTH" in codes


def test_ssml_counts_toward_our_depth_limit():
    def say(levels: int) -> str:  # Response and Say are levels 1 and 2
        return "<Response><Say type='ssml'>" + "<p>" * levels + "x" + "</p>" * levels + "</Say></Response>"

    compile_xml(say(MAX_DEPTH - 2))  # compiles
    d = one_error(say(MAX_DEPTH - 1))
    assert d.code == "E_XML_DEPTH" and d.span.col == len("<Response><Say type='ssml'>") + 3 * (MAX_DEPTH - 2) + 1


def test_an_unclosed_xml_declaration_is_a_syntax_error():
    d = one_error('<?xml version="1.0" encoding="UTF-8" <Response/>')
    assert d.code == "E_XML_SYNTAX" and d.message.startswith("the XML declaration is not closed")


@pytest.mark.parametrize("verb, url, detail", [
    ("Redirect", "http://[x]/next", "'x' does not appear to be an IPv4 or IPv6 address"),
    ("Play", "https://[::1/r.wav", "Invalid IPv6 URL"),
])
def test_a_url_that_cannot_be_parsed_is_E_URL(verb, url, detail):
    d = one_error(f"<Response><{verb}>{url}</{verb}></Response>")
    assert d.code == "E_URL" and d.message == f"<{verb}>: {url!r} is not a valid URL ({detail})"


def test_a_flow_url_that_cannot_be_parsed_is_E_URL():
    with pytest.raises(FlowError) as info:
        formats.load("https://[x/voice.xml")
    assert info.value.diagnostics[0].code == "E_URL"


def test_content_type_is_not_trusted():
    flow = InboundXML().compile_document("<Response><Say>Hi</Say></Response>", "https://x.example/a",
                                         "text/html; charset=UTF-8")
    assert flow.states["1-say"].op.text == "Hi"
    assert flow.handlers == {}  # a fetched document does not carry the call-wide handlers


# -- diagnostics ---------------------------------------------------------------------------------------


def test_unknown_verb_with_a_suggestion():
    d = one_error("<Response>\n  <Gahter/>\n</Response>", name="flows/menu.xml")
    assert d.render().startswith("flows/menu.xml:2:3: error[E_UNKNOWN_VERB]: unknown inboundxml element <Gahter>; "
                                 "did you mean 'Gather'?")


def test_bad_nesting_says_what_may_be_nested():
    d = one_error("<Response><Gather><Dial>+15551112222</Dial></Gather></Response>")
    assert d.code == "E_NESTING"
    assert d.message == ("<Dial> cannot be nested in <Gather>; <Gather> may contain <Say>, <Play>, <Pause>, "
                         "<PlayLastRecording>")
    assert (d.span.line, d.span.col) == (1, 19)


def test_gather_cannot_be_nested_in_gather():
    assert one_error("<Response><Gather><Gather/></Gather></Response>").code == "E_NESTING"


def test_a_noun_outside_dial_is_bad_nesting():
    assert one_error("<Response><Number>+15551112222</Number></Response>").code == "E_NESTING"


def test_text_in_an_empty_verb():
    d = one_error("<Response><Pause>3</Pause></Response>")
    assert (d.code, d.message) == ("E_CONTENT", "<Pause> takes no text or child elements")


def test_text_directly_in_response():
    d = one_error("<Response>\n  <Say>Hi</Say>\n  hello\n</Response>")
    assert d.code == "E_CONTENT" and "'hello'" in d.message


def test_bad_attribute_values_point_at_the_attribute():
    d = one_error('<Response>\n  <Gather numDigits="0"/>\n</Response>')
    assert d.render().startswith("doc.xml:2:11: error[E_ATTR_VALUE]: <Gather numDigits>: 0 is out of range (1..128)")
    assert one_error('<Response><Say loop="-1">x</Say></Response>').code == "E_ATTR_VALUE"
    assert one_error('<Response><Gather timeout="soon"/></Response>').code == "E_ATTR_VALUE"
    assert one_error('<Response><Gather finishOnKey="x"/></Response>').code == "E_ATTR_VALUE"
    assert one_error('<Response><Dial hideCallerId="maybe">+15551112222</Dial></Response>').code == "E_ATTR_VALUE"
    assert one_error('<Response><Redirect method="PUT">https://x.example</Redirect></Response>').code == "E_ATTR_VALUE"
    assert one_error('<Response><Dial timeout="601">+15551112222</Dial></Response>').code == "E_ATTR_VALUE"


def test_unknown_voice_suggests_one():
    d = one_error('<Response><Say voice="en-us-standard-femal-1">x</Say></Response>')
    assert "did you mean 'en-us-standard-female-1'" in d.message


def test_unknown_attribute_is_a_warning_and_ignored():
    flow = compile_xml('<Response><Say lang="en">Hi</Say></Response>')
    (warning,) = warnings_of(flow)
    assert warning["code"] == "W_UNKNOWN_ATTR" and (warning["line"], warning["col"]) == (1, 16)
    assert flow.states["1-say"].op.language is None


def test_duplicate_attribute_in_two_cases():
    assert one_error('<Response><Say loop="1" LOOP="2">x</Say></Response>').code == "E_DUPLICATE_ATTR"


def test_unreachable_verbs_are_a_warning():
    flow = compile_xml("<Response><Redirect>https://x.example/next</Redirect><Say>You will never hear this.</Say>"
                       "</Response>")
    assert [w["code"] for w in warnings_of(flow)] == ["W_UNREACHABLE"]


def test_several_problems_are_all_reported_in_source_order():
    found = problems("<Response>\n<Gahter/>\n<Say loop='x'>a</Say>\n<Pause length='0'/>\n</Response>")
    assert [(d.code, d.span.line) for d in found] == [("E_UNKNOWN_VERB", 2), ("E_ATTR_VALUE", 3), ("E_ATTR_VALUE", 4)]


def test_root_must_be_response():
    assert one_error("<Reponse/>").code == "E_ROOT"


def test_unsupported_element_is_refused_clearly():
    d = one_error("<Response><Connect><Agent>7</Agent></Connect></Response>")
    assert d.code == "E_UNSUPPORTED" and "agent platform" in d.message


@pytest.mark.parametrize("xml,attribute", [
    ('<Record sampleRate="8000"/>', "sampleRate"),
    ('<Record sliceStart="1"/>', "sliceStart"),
    ('<Record lifetime="3"/>', "lifetime"),
    ('<Dial straightToVm="true">+15551112222</Dial>', "straightToVm"),
    ('<Dial confirmSound="x">+15551112222</Dial>', "confirmSound"),
    ('<Dial recordLifetime="3">+15551112222</Dial>', "recordLifetime"),
    ('<Hangup schedule="10"/>', "schedule"),
    ('<Dial><Sip username="u">sip:a@b.example</Sip></Dial>', "username"),
    ('<Dial><Conference waitUrl="https://x.example/w">r</Conference></Dial>', "waitUrl"),
    ('<Conference name="r" participantKey="1"/>', "participantKey"),
])
def test_unsupported_attributes_are_errors_naming_the_attribute(xml, attribute):
    d = one_error(f"<Response>{xml}</Response>")
    assert d.code == "E_UNSUPPORTED" and f" {attribute}> is not supported" in d.message


# -- options and dialect selection ---------------------------------------------------------------------


def test_options_in_the_format_name():
    fmt = formats.get("inboundxml, pause_unit=ms, action_on_empty_result=true")
    flow = fmt.compile('<Response><Pause length="1500"/></Response>', "a.xml")
    assert flow.states["1-pause"].op.seconds == 1.5


def test_unknown_option_is_an_error_with_a_suggestion():
    with pytest.raises(FlowError) as info:
        formats.get("inboundxml, pause_units=ms")
    assert "did you mean 'pause_unit'" in info.value.diagnostics[0].message


def test_options_in_a_processing_instruction_are_inherited_by_fetched_documents():
    flow = compile_xml('<?flowengine pause_unit="ms"?><Response><Pause length="500"/>'
                       '<Redirect>https://x.example/n</Redirect></Response>')
    assert flow.states["1-pause"].op.seconds == 0.5
    assert flow.states["2-redirect.fetch"].op.format == "inboundxml, pause_unit=ms"


def test_bad_processing_instruction():
    assert one_error('<?flowengine pause_unit="hours"?><Response/>').code == "E_OPTION"


def test_twiml_is_detected_from_twilio_only_names():
    flow = compile_xml('<Response><Gather actionOnEmptyResult="true" action="https://x.example/g"/></Response>')
    assert flow.dialect == "twiml"
    assert compile_xml("<Response><Say>Hi</Say></Response>").dialect == "inboundxml"


def test_a_ytel_only_name_keeps_a_document_inboundxml():
    flow = compile_xml('<Response><Say type="ssml">Hi</Say><Record background="false" trim="x"/></Response>'
                       .replace(' trim="x"', ""))
    assert flow.dialect == "inboundxml"


def test_twiml_suffix_and_explicit_dialect():
    assert compile_xml("<Response><Say>Hi</Say></Response>", name="a.twiml.xml").dialect == "twiml"
    assert compile_xml("<Response><Say>Hi</Say></Response>", dialect="twiml").dialect == "twiml"
    assert compile_xml('<?flowengine dialect="twiml"?><Response><Say>Hi</Say></Response>').dialect == "twiml"


def test_sniffed_without_a_known_suffix():
    assert formats.detect("voice.php", "<?xml version='1.0'?>\n<!-- hi -->\n<Response/>").name == "inboundxml"


def test_detection_markers_belong_to_one_dialect_only():
    from flowengine.formats.inboundxml.grammar import TWIML_MARKERS, YTEL_MARKERS, InboundXMLGrammar, TwiMLGrammar

    def names(grammar):
        tags = {s.tag.lower() for s in grammar.ELEMENTS.values()}
        attrs = {a.lower() for s in grammar.ELEMENTS.values() for a in s.attrs}
        return tags, attrs

    for markers, other in ((TWIML_MARKERS, InboundXMLGrammar), (YTEL_MARKERS, TwiMLGrammar)):
        tags, attrs = names(other)
        for marker in markers:
            kind, _, name = marker.partition(":")
            assert name not in (tags if kind == "element" else attrs), marker
