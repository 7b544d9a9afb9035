"""Live documents: a flow that is a URL, hand-offs, GET/POST parameters, fallback, status callback, hop cap."""

from flowengine import formats
from flowengine.testing.runner import simulate

from tests.formats.inboundxml.ixml import DEFAULT_PARAMS, doc, events, run_url, run_xml, without_t

VOICE = "https://app.example.com/voice.xml"
FALLBACK = "https://app.example.com/fallback.xml"
STATUS = "https://app.example.com/status"


def test_a_url_flow_is_fetched_like_a_live_call_with_post_by_default():
    t = run_url(VOICE, {"call": {"from": "+15551230000"}, "http": {VOICE: doc("<Response><Say>Hi</Say></Response>")}})
    first = t.events[0]
    assert (first["op"], first["method"], first["url"], first["status"]) == ("http", "POST", VOICE, 200)
    assert first["params"] == {**DEFAULT_PARAMS, "From": "+15551230000"}
    assert t.ops()[1:] == ["answer", "say", "hangup", "end"]


def test_the_scenario_method_get_puts_parameters_in_the_query():
    query = "carrier=&wireless=&zipcode=&city=&AccountSid=&From=%2B15550000001&To=%2B15550000002" \
            "&CallSid=00000000-0000-4000-8000-000000000001"
    t = run_url(VOICE, {"call": {"method": "get"},
                        "http": {f"GET {VOICE}?{query}": doc("<Response><Say>exact</Say></Response>")}})
    assert t.events[0]["method"] == "GET"
    assert events(t, "say")[0]["text"] == "exact"


def test_lookup_parameters_come_from_call_variables():
    t = run_url(VOICE, {"call": {"variables": {"AccountSid": "AC1", "carrier": "T-Mobile USA Inc", "wireless": "True",
                                               "zipcode": "77840", "city": "College Station"}},
                        "http": {VOICE: doc("<Response/>")}})
    params = t.events[0]["params"]
    assert (params["AccountSid"], params["carrier"], params["wireless"], params["zipcode"], params["city"]) == \
        ("AC1", "T-Mobile USA Inc", "True", "77840", "College Station")


def test_account_sid_option():
    flow = formats.get("inboundxml, account_sid=AC42").bootstrap(VOICE)
    t = simulate(flow, {"http": {VOICE: doc("<Response/>")}})
    assert t.events[0]["params"]["AccountSid"] == "AC42"
    t = simulate(flow, {"call": {"variables": {"AccountSid": "AC7"}}, "http": {VOICE: doc("<Response/>")}})
    assert t.events[0]["params"]["AccountSid"] == "AC7"


def test_fallback_url_when_the_first_fetch_fails():
    for failure in ({"status": 500}, {"timeout": True}):
        t = run_url(VOICE, {"call": {"fallback_url": FALLBACK},
                            "http": {VOICE: failure, FALLBACK: doc("<Response><Say>Fallback</Say></Response>")}})
        fetches = events(t, "http")
        assert [(e["url"], e["method"]) for e in fetches] == [(VOICE, "POST"), (FALLBACK, "POST")]
        assert fetches[1]["params"] == fetches[0]["params"]
        assert events(t, "error")[0]["code"] == "E_FETCH"
        assert events(t, "say")[0]["text"] == "Fallback"


def test_fallback_url_when_the_answer_does_not_parse():
    t = run_url(VOICE, {"call": {"fallback_url": FALLBACK},
                        "http": {VOICE: doc("<html><body>oops</body></html>"),
                                 FALLBACK: doc("<Response><Say>Fallback</Say></Response>")}})
    (error,) = events(t, "error")
    assert error["code"] == "E_DOCUMENT" and "E_ROOT" in error["message"]
    assert events(t, "say")[0]["text"] == "Fallback"


def test_fallback_url_when_an_action_fetch_fails_carries_the_verb_parameters():
    t = run_xml('<Response><Gather action="https://app.example.com/menu" numDigits="1"/></Response>',
                {"caller": ["3"], "call": {"fallback_url": FALLBACK},
                 "http": {"https://app.example.com/menu": {"status": 503}, FALLBACK: doc("<Response/>")}})
    first, second = events(t, "http")
    assert (second["url"], second["params"]["Digits"]) == (FALLBACK, "3")


def test_without_a_fallback_a_failed_fetch_ends_the_call():
    t = run_url(VOICE, {"http": {VOICE: {"status": 404}}})
    assert without_t(t.events)[1:] == [
        {"op": "error", "code": "E_FETCH", "message": f"fetching {VOICE} failed: status 404",
         "source": f"{VOICE}:1:1"},
        {"op": "hangup", "by": "flow"}, {"op": "end", "reason": "flow_end"}]


def test_a_broken_fallback_ends_the_call():
    t = run_url(VOICE, {"call": {"fallback_url": FALLBACK}, "http": {"*": {"status": 500}}})
    assert [e["url"] for e in events(t, "http")] == [VOICE, FALLBACK]
    assert t.events[-1]["op"] == "end"


def test_status_callback_at_call_end():
    t = run_url(VOICE, {"call": {"status_callback": STATUS},
                        "http": {VOICE: doc("<Response><Say>Hi</Say></Response>"), STATUS: {"status": 200}}})
    assert t.ops()[-3:] == ["hangup", "http", "end"]
    status = events(t, "http")[-1]
    assert (status["url"], status["method"], status["params"]) == \
        (STATUS, "POST", {**DEFAULT_PARAMS, "CallStatus": "completed"})


def test_status_callback_after_the_caller_hangs_up_and_for_a_file_flow():
    t = run_xml("<Response><Gather numDigits='1'><Say>Press</Say></Gather></Response>",
                {"caller": ["hangup"], "call": {"status_callback": STATUS}})
    assert [e["url"] for e in events(t, "http")] == [STATUS]
    assert events(t, "hangup")[0]["by"] == "caller"


def test_no_status_callback_when_none_is_configured():
    assert events(run_xml("<Response><Say>Hi</Say></Response>"), "http") == []


def test_redirect_loop_is_capped_and_ends_with_an_error():
    t = run_url(VOICE, {"http": {VOICE: doc(f"<Response><Redirect>{VOICE}</Redirect></Response>")},
                        "limits": {"max_fetches": 5}})
    assert len(events(t, "http")) == 5
    assert events(t, "error")[-1]["code"] == "E_MAX_FETCHES"
    assert t.events[-1] == {"t": 0.0, "leg": "A", "op": "end", "reason": "error"}


def test_documents_chain_through_actions_and_inherit_the_dialect_options():
    menu = ('<?flowengine pause_unit="ms"?><Response><Gather action="step2.xml" numDigits="1"><Pause length="500"/>'
            "</Gather></Response>")
    t = run_url(VOICE, {"caller": ["1"], "http": {
        VOICE: doc(menu),
        "https://app.example.com/step2.xml": doc('<Response><Pause length="250"/></Response>')}})
    assert [e["seconds"] for e in events(t, "silence")] == [0.5, 0.25]


def test_hang_up_during_a_fetched_document_makes_no_more_requests():
    t = run_url(VOICE, {"caller": ["hangup"], "http": {
        VOICE: doc('<Response><Gather action="https://app.example.com/next" numDigits="1"/></Response>')}})
    assert [e["url"] for e in events(t, "http")] == [VOICE]


def test_twiml_url_flow():
    t = run_url(VOICE, {"http": {VOICE: doc("<Response><Say>Hi</Say></Response>")}}, dialect="twiml")
    params = t.events[0]["params"]
    assert (params["CallStatus"], params["Direction"], params["ApiVersion"]) == ("ringing", "inbound", "2010-04-01")


def test_a_runtime_error_sends_the_call_to_the_fallback_url():
    import asyncio

    from flowengine.channels.fake import FakeChannel, FakeHttp
    from flowengine.errors import ChannelError
    from flowengine.runtime.clock import VirtualClock
    from flowengine.runtime.interpreter import Interpreter
    from flowengine.testing.scenario import load_scenario

    class Broken(FakeChannel):
        async def play(self, leg, prompt):
            if prompt.text == "boom":
                raise ChannelError("the switch refused the prompt")
            return await super().play(leg, prompt)

    flow = formats.compile_text("<Response><Say>boom</Say></Response>", "a.xml")
    scenario = load_scenario({"call": {"fallback_url": FALLBACK},
                              "http": {FALLBACK: doc("<Response><Say>Recovered</Say></Response>")}})
    clock = VirtualClock()
    run = Interpreter(flow, Broken(scenario.world, clock), call=scenario.call, clock=clock,
                      http=FakeHttp(scenario.world, clock), loader=formats.load_document)
    result = asyncio.run(run.run())
    assert [e["op"] for e in result.events] == ["answer", "error", "http", "say", "hangup", "end"]
    assert result.events[1]["code"] == "E_CHANNEL" and result.events[3]["text"] == "Recovered"


def test_fetched_documents_are_compiled_once_per_url_and_body():
    fmt = formats.get("inboundxml")
    body = "<Response><Say>Cached</Say></Response>"
    first = fmt.compile_document(body, "https://app.example.com/c.xml")
    assert fmt.compile_document(body, "https://app.example.com/c.xml") is first
    assert fmt.compile_document(body, "https://app.example.com/other.xml") is not first
    assert fmt.compile_document(body.replace("Cached", "Fresh"), "https://app.example.com/c.xml") is not first
    assert formats.get("inboundxml, pause_unit=ms").compile_document(body, "https://app.example.com/c.xml") is not first
