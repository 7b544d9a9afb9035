"""Properties: any script made of random branches ends, within the budgets, whatever the caller does."""

import json

from hypothesis import HealthCheck, given, settings, strategies as st

from flowengine.formats.actions10 import compile_script
from flowengine.testing.runner import simulate

NAMES = ["inbound-call", "b1", "b2", "b3"]
ALLOWED_ERRORS = {"E_LOOP_LIMIT", "E_NO_PARENT", "E_NO_CALL", "E_MAX_STEPS", "E_MAX_TIME"}


def _steps(draw, depth: int, names: list) -> list:
    step = st.one_of(
        st.just({"action": "say@v2", "params": {"what": "hi ${{ $n }}"}}),
        st.builds(lambda m: {"action": "gather@v2", "params": {"maxDigits": m, "timeout": 2}, "result": "$g"},
                  st.integers(1, 3)),
        st.just({"action": "javascript@v1", "params": {"code": "$n++"}}),
        st.builds(lambda b, c: {"if": c, "goto": {"branch": b}}, st.sampled_from(names),
                  st.sampled_from(["true", "$n % 2 === 0", "$g && $g.ok", "$n < 5"])),
        st.builds(lambda b, a: {"action": "dial@v1", "params": {"targets": [{"number": "+15550000011"}],
                                                                **({"answerOnBranch": b} if a else {})},
                                "result": "$d"}, st.sampled_from(names), st.booleans()),
        st.just({"action": "bridge@v1"}),
        st.just({"action": "hangup@v1"}),
        st.just({"action": "log@v1", "params": {"message": "${{ JSON.stringify($d) }}"}}),
    )
    items = draw(st.lists(step, max_size=4))
    if depth < 2 and draw(st.booleans()):
        items.append({"if": "$n > 2", "then": _steps(draw, depth + 1, names),
                      "else": _steps(draw, depth + 1, names)})
    return items


@st.composite
def scripts(draw):
    names = NAMES[: draw(st.integers(1, len(NAMES)))]
    branches = {name: {"actions": _steps(draw, 0, names)} for name in names}
    if draw(st.booleans()):
        branches["hangup"] = {"actions": [{"action": "log@v1", "params": {"message": "bye ${{ $n }}"}}]}
    return json.dumps({"variables": {"$n": 0, "$g": None, "$d": None}, "branches": branches})


caller = st.lists(st.one_of(st.sampled_from(["timeout", "hangup", "1", "12#"])), max_size=6)
world = st.fixed_dictionaries({"*": st.sampled_from(["answer", "busy", "no-answer", "failed"])})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scripts(), caller, world, st.one_of(st.none(), st.integers(1, 120)))
def test_random_scripts_end_within_the_budgets(text, inputs, dial, hangup_at):
    flow = compile_script(text, "random.actions.json")
    scenario = {"caller": inputs, "dial": dial, "limits": {"max_steps": 1000, "max_time": 1800}}
    if hangup_at is not None:
        scenario["hangup_at"] = hangup_at
    t = simulate(flow, scenario)
    assert t.events[-1]["op"] == "end"
    assert t.events[-1]["t"] <= 1800
    assert len(t.steps) <= 1000 + 50  # the hangup branch runs after the budget
    assert {e["code"] for e in t.events if e["op"] == "error"} <= ALLOWED_ERRORS
