"""ACTIONS10 expression cost: a 20-step script with 10 `${{ }}`-templated params, against the same
script with the 10 params written as literals (same channel operations, same transcript shape).

Both run in this process, one simulated call after another, each call with its own QuickJS context
(created on the call's first evaluation, as in production); the literal script evaluates no JavaScript
at all, so the ratio includes creating that context. Prints µs per call for both, the ratio
(target <= 2x), the QuickJS memory one call's context holds (what each concurrent call costs), and
the compile time of the script.

    .venv/bin/python bench/actions10.py [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time

from flowengine.channels.fake import FakeChannel, FakeHttp, FakeSms
from flowengine.formats.actions10 import compile_script
from flowengine.runtime.clock import VirtualClock
from flowengine.runtime.ids import SequentialIds
from flowengine.runtime.interpreter import Interpreter
from flowengine.testing.scenario import load_scenario

TEMPLATED = [
    "{action: say@v2, params: {what: 'Welcome ${{ call.fromNumber }}'}}",
    "{action: say@v2, params: {what: '${{ $n + 1 }} message'}}",
    "{action: say@v2, params: {what: 'Your account ${{ $account }} is open'}}",
    "{action: gather@v2, params: {maxDigits: '${{ $digits }}', timeout: 3, prompt: {what: 'Press ${{ $n }}'}}, result: $g}",
    "{action: log@v1, params: {message: 'got ${{ $g.digits }}'}}",
    "{action: play@v1, params: {media: '${{ $media }}'}}",
    "{action: say@v2, params: {what: 'You pressed ${{ $g.digits || \"nothing\" }}'}}",
    "{action: fetch@v2, params: {url: 'https://api.example/${{ $account }}', method: POST}, result: $api}",
    "{action: say@v2, params: {what: 'Status ${{ $api.status }}'}}",
    "{action: log@v1, params: {message: 'done ${{ $n }}'}}",
]
LITERAL = [
    "{action: say@v2, params: {what: 'Welcome +33639980042'}}",
    "{action: say@v2, params: {what: '1 message'}}",
    "{action: say@v2, params: {what: 'Your account 12345 is open'}}",
    "{action: gather@v2, params: {maxDigits: 1, timeout: 3, prompt: {what: 'Press 1'}}, result: $g}",
    "{action: log@v1, params: {message: 'got 1'}}",
    "{action: play@v1, params: {media: 131}}",
    "{action: say@v2, params: {what: 'You pressed 1'}}",
    "{action: fetch@v2, params: {url: 'https://api.example/12345', method: POST}, result: $api}",
    "{action: say@v2, params: {what: 'Status 200'}}",
    "{action: log@v1, params: {message: 'done 1'}}",
]
FILLER = "{action: log@v1, params: {message: step}}"


def script(steps: list[str]) -> str:
    body = []
    for step in steps:  # 10 measured steps interleaved with 10 plain ones: 20 steps
        body += [f"      - {step}", f"      - {FILLER}"]
    return ("variables: {$n: 0, $account: '12345', $digits: 1, $media: 131, $g: null, $api: null}\n"
            "branches:\n  inbound-call:\n    actions:\n" + "\n".join(body) + "\n")


SCENARIO = load_scenario({"call": {"from": "+33639980042", "to": "+33199001234"}, "caller": ["1"],
                          "http": {"*": {"status": 200, "json": {"ok": True}}}})


async def one_call(flow, keep: list | None = None) -> list[dict]:
    ids = SequentialIds()
    clock = VirtualClock(SCENARIO.call.at)
    channel = FakeChannel(SCENARIO.world, clock, ids=ids)
    interpreter = Interpreter(flow, channel, call=SCENARIO.call, clock=clock, http=FakeHttp(SCENARIO.world, clock),
                              sms=FakeSms(ids), limits=SCENARIO.limits, ids=ids)
    result = await interpreter.run()
    if keep is not None:
        keep.append(interpreter)
    return result.events


async def per_call_us(flow, calls: int) -> float:
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            await one_call(flow)
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


async def main(calls: int) -> None:
    t0 = time.perf_counter()
    templated = compile_script(script(TEMPLATED), "templated.actions.yaml")
    compile_ms = (time.perf_counter() - t0) * 1000
    literal = compile_script(script(LITERAL), "literal.actions.yaml")
    a, b = await one_call(templated), await one_call(literal)
    assert [e["op"] for e in a] == [e["op"] for e in b], "the two scripts must do the same operations"
    await per_call_us(templated, 20)  # warm up
    base = await per_call_us(literal, calls)
    templ = await per_call_us(templated, calls)
    keep: list = []
    gc.collect()
    for _ in range(20):
        await one_call(templated, keep)
    memory = statistics.median(i.scope.cache["js"].memory() for i in keep)
    print(f"literal params   : {base:8.0f} µs per call ({len(b)} events)")
    print(f"templated params : {templ:8.0f} µs per call (10 of 20 steps use ${{{{ }}}})")
    print(f"ratio            : {templ / base:8.2f}x  (target <= 2x)")
    print(f"QuickJS memory   : {memory / 1024:8.0f} KiB per concurrent call (one context per call)")
    print(f"compile          : {compile_ms:8.1f} ms for the templated script (first compile in the process)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    asyncio.run(main(parser.parse_args().calls))
