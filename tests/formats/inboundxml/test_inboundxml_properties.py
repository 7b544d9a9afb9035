"""Properties: random verb sequences and random caller behaviour always end, in time order."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowengine.testing.runner import simulate

from tests.formats.inboundxml.ixml import compile_xml

BASE = "https://app.example.com/"
DOCS = [f"{BASE}d{i}.xml" for i in range(3)]

SIMPLE = st.sampled_from([
    "<Say>Hello</Say>", '<Say loop="0">Forever</Say>', '<Play loop="2">https://cdn.example.com/a.wav</Play>',
    '<Pause length="2"/>', "<PlayLastRecording/>", "<Answer/>", '<Record background="true"/>',
    '<Sms>Hi</Sms>', f"<Ping>{BASE}ping</Ping>",
])
HANDOFF = st.sampled_from([
    f'<Gather action="{DOCS[0]}" numDigits="1"><Say>Press</Say></Gather>',
    f'<Gather action="{DOCS[1]}" input="speech dtmf"><Play>https://cdn.example.com/p.wav</Play></Gather>',
    "<Gather numDigits='2' finishOnKey='*'/>",
    f'<Record action="{DOCS[2]}" maxLength="20"/>',
    f'<Dial action="{DOCS[0]}" timeout="10" hangupOnStar="true">+15551110001,+15551110002</Dial>',
    f'<Dial groupConfirmKey="1" heartbeatUrl="{BASE}hb">+15551110001</Dial>',
    f"<Redirect>{DOCS[1]}</Redirect>", "<Hangup/>", '<Reject reason="busy"/>',
    f'<Conference name="r"><Participant>+15551110002</Participant></Conference>',
])
VERB = st.one_of(SIMPLE, HANDOFF)
DOCUMENT = st.lists(VERB, max_size=6).map(lambda verbs: "<Response>" + "".join(verbs) + "</Response>")
CALLER = st.lists(st.one_of(
    st.sampled_from(["1", "2", "12#", "*", "timeout", "hangup"]),
    st.builds(lambda s: {"record": s, "keys": "#"}, st.integers(0, 30)),
    st.builds(lambda s: {"keys": "1", "at": s}, st.floats(0, 5, allow_nan=False)),
    st.just({"speech": "sales", "confidence": 0.8}),
), max_size=8)
DIAL = st.sampled_from(["answer", "busy", "no-answer", "failed", {"status": "answer", "talk": 200}])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(top=DOCUMENT, fetched=st.lists(DOCUMENT, min_size=3, max_size=3), caller=CALLER, dial=DIAL,
       hangup_at=st.one_of(st.none(), st.floats(0, 400, allow_nan=False)))
def test_random_documents_and_callers_always_end(top, fetched, caller, dial, hangup_at):
    flow = compile_xml(top, name=BASE + "top.xml")
    scenario = {"caller": caller, "dial": {"*": dial}, "limits": {"max_fetches": 8, "max_time": 3600},
                "http": {**{url: {"status": 200, "body": body} for url, body in zip(DOCS, fetched)},
                         "*": {"status": 200}}}
    if hangup_at is not None:
        scenario["hangup_at"] = hangup_at
    t = simulate(flow, scenario)
    assert t.events[-1]["op"] == "end"
    assert sum(1 for e in t.events if e["op"] == "end") == 1
    times = [e["t"] for e in t.events]
    assert times == sorted(times)
