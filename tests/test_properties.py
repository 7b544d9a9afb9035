"""Properties of the core: any flow with any caller behaviour ends, deterministically; IR JSON round-trips."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowengine.ir import decode, encode
from flowengine.ir.model import OPS
from flowengine.testing.runner import simulate

TEXT = st.text(alphabet="abc xyz", min_size=0, max_size=40)
KEYS = st.text(alphabet="0123456789*#", min_size=0, max_size=5)
TARGETS = ["+1", "+2", "+3"]


def op_strategy(ids: list[str]):
    return st.one_of(op_branches(ids))


def op_branches(ids: list[str]) -> list:
    """One strategy per op kind (prompt kinds included), for `op_strategy` and its coverage test."""
    var = st.sampled_from(["x", "y", "call.from", "r.status"])
    expr = st.one_of(
        st.builds(lambda v: {"$expr": "var", "src": v}, var),
        st.builds(lambda v: {"$expr": "calc", "src": f"{v.split('.')[0]} + 1"}, var),
    )
    prompts = [
        st.builds(lambda t, n: {"op": "say", "text": t, "loop": n}, TEXT, st.integers(0, 2)),
        st.builds(lambda u: {"op": "play", "url": u}, st.sampled_from(["a.wav", "b.wav"])),
        st.builds(lambda s: {"op": "silence", "seconds": s}, st.floats(0, 3)),
    ]
    prompt = st.one_of(prompts)
    return [
        *prompts,
        st.builds(lambda d: {"op": "say_digits", "digits": d}, st.text("0123456789", min_size=1, max_size=4)),
        st.builds(lambda d: {"op": "send_dtmf", "digits": d}, st.text("0123456789w", min_size=1, max_size=4)),
        st.builds(lambda p, m, c, e: {"op": "collect", "prompts": p, "max_digits": m, "choices": c, "early_match": e,
                                      "result": "r"},
                  st.lists(prompt, max_size=2), st.one_of(st.none(), st.integers(1, 4)),
                  st.one_of(st.none(), st.lists(st.text("0123", min_size=1, max_size=2), min_size=1, max_size=3,
                                                unique=True)), st.booleans()),
        st.builds(lambda p: {"op": "speech", "prompts": p, "dtmf": True}, st.lists(prompt, max_size=1)),
        st.builds(lambda m, b: {"op": "record", "max_length": m, "beep": b}, st.floats(1, 60), st.booleans()),
        st.builds(lambda t, oa, b, tl: {"op": "dial", "targets": t, "timeout": 20, "on_answer": oa, "bridge": b,
                                         "time_limit": tl, "result": "r"},
                  st.lists(st.sampled_from(TARGETS), min_size=1, max_size=2), st.one_of(st.none(), st.sampled_from(ids)),
                  st.booleans(), st.one_of(st.none(), st.floats(1, 100))),
        st.just({"op": "bridge"}),
        st.builds(lambda n: {"op": "queue", "name": n, "max_wait": 30}, st.sampled_from(["sales", "support"])),
        st.builds(lambda r: {"op": "conference", "room": r}, st.sampled_from(["r1", "r2"])),
        st.builds(lambda u: {"op": "http", "url": u, "result": "r"}, st.sampled_from(["https://a/x", "https://b/y"])),
        st.builds(lambda n, v: {"op": "set", "name": n, "value": v}, st.sampled_from(["x", "y"]),
                  st.one_of(st.integers(0, 3), TEXT, expr)),
        st.builds(lambda n, v, q: {"op": "assign", "values": {n: v}, "silent": q}, st.sampled_from(["x", "y"]),
                  st.one_of(st.integers(0, 3), TEXT, expr), st.booleans()),
        st.builds(lambda m: {"op": "log", "message": m}, st.one_of(TEXT, expr)),
        st.builds(lambda v, k: {"op": "branch", "cases": [{"key": "k", "when": {"eq": [{"$expr": "var", "src": v}, k]}}]},
                  var, st.one_of(st.integers(0, 3), KEYS)),
        st.just({"op": "goto"}),
        st.builds(lambda e: {"op": "call", "entry": e}, st.sampled_from(ids)),
        st.just({"op": "hangup"}),
        st.just({"op": "reject"}),
        st.just({"op": "answer"}),
        st.just({"op": "fail", "code": "E_TEST"}),
        st.just({"op": "sms", "to": "+1", "body": "hi"}),
        st.just({"op": "document", "url": "https://doc/x", "format": "ir", "mode": "call"}),
    ]


@st.composite
def flows(draw):
    count = draw(st.integers(1, 8))
    ids = [f"s{i}" for i in range(count)]
    states = {}
    for sid in ids:
        op = draw(op_strategy(ids))
        probe = decode({"entry": "z", "states": {"z": op, **{i: {"op": "goto"} for i in ids}}})
        outcomes = sorted(probe.states["z"].op.outcomes())
        edges = {o: draw(st.sampled_from(ids)) for o in outcomes if draw(st.booleans())}
        states[sid] = {**op, "edges": edges}
    handlers = {h: draw(st.sampled_from(ids)) for h in ("hangup", "lifetime", "error") if draw(st.booleans())}
    lifetime = draw(st.one_of(st.none(), st.floats(1, 100)))
    answer = draw(st.sampled_from(["auto", "start", "manual"]))
    return {"entry": draw(st.sampled_from(ids)), "states": states, "handlers": handlers, "lifetime": lifetime,
            "answer": answer, "variables": {"x": 0}}


CALLER_INPUT = st.one_of(
    KEYS, st.sampled_from(["timeout", "hangup"]),
    st.builds(lambda k, a: {"keys": k, "at": a}, KEYS, st.floats(0, 8)),
    st.builds(lambda r: {"record": r}, st.floats(0, 20)),
    st.builds(lambda s: {"speech": s, "confidence": 0.5}, TEXT),
)
DIAL = st.one_of(st.sampled_from(["answer", "busy", "no-answer", "failed"]),
                 st.builds(lambda s, a, t, h, i: {"status": s, "after": a, "talk": t, "hangup": h, "inputs": i},
                           st.sampled_from(["answer", "busy"]), st.floats(0, 30), st.floats(0, 50),
                           st.sampled_from(["callee", "caller"]), st.lists(CALLER_INPUT, max_size=2)))
DOC = json.dumps({"entry": "d", "states": {"d": {"op": "say", "text": "from a document"}}})


@st.composite
def scenarios(draw):
    scenario = {
        "call": {"trigger": draw(st.sampled_from(["inbound-call", "api", "inbound-sms"]))},
        "caller": draw(st.lists(CALLER_INPUT, max_size=6)),
        "dial": {t: draw(DIAL) for t in TARGETS if draw(st.booleans())},
        "queue": {"*": draw(st.sampled_from(["answered", "answered/agent_hangup", "answered/caller_hangup",
                                             "timeout", "exit:1", "no_agents"]))},
        "http": {"https://doc/x": {"body": DOC}, "*": {"status": draw(st.sampled_from([200, 404, 500]))}},
        "limits": {"max_steps": 300, "max_time": 900, "max_fetches": 5},
    }
    hangup_at = draw(st.one_of(st.none(), st.floats(0, 200)))
    if hangup_at is not None:
        scenario["hangup_at"] = hangup_at
    return scenario


SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(flows(), scenarios())
def test_any_flow_and_any_caller_ends_within_the_budgets(flow_json, scenario):
    flow = decode(flow_json)
    transcript = simulate(flow, scenario)
    events = transcript.events
    assert events[-1]["op"] == "end" and sum(e["op"] == "end" for e in events) == 1
    times = [e["t"] for e in events]
    assert times == sorted(times), "time never goes backwards"
    assert times[-1] <= 900 + 0.001
    assert all(isinstance(e["leg"], str) for e in events)
    assert simulate(flow, scenario).to_jsonl() == transcript.to_jsonl(), "same inputs, same bytes"


@SETTINGS
@given(flows())
def test_ir_json_round_trips_exactly(flow_json):
    flow = decode(flow_json)
    encoded = json.loads(json.dumps(encode(flow)))
    assert decode(encoded) == flow
    assert encode(decode(encoded)) == encoded


def test_every_op_kind_is_generated():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kinds = {branch.example()["op"] for branch in op_branches(["a"])}
    assert kinds >= set(OPS) - {"record_start", "record_stop", "ringing"}
