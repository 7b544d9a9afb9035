"""Lint time of generated flows against compiling them, at 500, 1,000, 2,000 and 4,000 states.

The flow is IR JSON made of 10-state menu blocks (greeting, menu with choices, attempt counter and its
branch, dial, voicemail, webhook, log, goodbye, hangup), each block with its own counter and results,
chained through the menus: so the variables, edges and loops all grow with the flow. "compile" is
`formats.compile_text` (JSON parsing with positions, decoding, validation); "lint" is `lint(flow)` on
the compiled flow (no file reading: suppression comments are looked up in an empty `sources`). Both
run in this process, on one core, best of `--repeat` runs. Target (issue 8): lint <= 2x compile at
2,000 states, and both linear in states and edges.

    .venv/bin/python bench/lint.py [--sizes 500,1000,2000,4000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import time

from flowengine import formats
from flowengine.ir.analysis import lint


def block(k: int, last: bool) -> dict:
    b, nxt = f"b{k}", f"b{k + 1}.greet" if not last else f"b{k}.bye"
    var = lambda src: {"$expr": "var", "src": src}  # noqa: E731
    return {
        f"{b}.greet": {"op": "say", "text": f"Welcome to department {k}.", "next": f"{b}.menu"},
        f"{b}.menu": {
            "op": "collect", "prompts": [{"op": "say", "text": "Press 1 to talk to us, 2 for the next menu, 3 to log."}],
            "choices": ["1", "2", "3"], "result": f"r{k}",
            "edges": {"match:1": f"{b}.dial", "match:2": nxt, "match:3": f"{b}.log",
                      "timeout": f"{b}.count", "invalid": f"{b}.count"},
        },
        f"{b}.count": {"op": "set", "name": f"tries{k}", "value": {"$expr": "calc", "src": f"tries{k} + 1"},
                       "next": f"{b}.check"},
        f"{b}.check": {"op": "branch", "cases": [{"key": "out", "when": {"$expr": "calc", "src": f"tries{k} >= 3"}}],
                       "edges": {"match:out": f"{b}.bye", "ok": f"{b}.menu"}},
        f"{b}.dial": {"op": "dial", "targets": [var("target")], "timeout": 20, "result": f"d{k}",
                      "edges": {"answered": f"{b}.bye", "no-answer": f"{b}.vm", "busy": f"{b}.vm", "failed": f"{b}.vm"}},
        f"{b}.vm": {"op": "record", "max_length": 60, "result": f"m{k}",
                    "edges": {"ok": f"{b}.hook", "timeout": f"{b}.bye"}},
        f"{b}.hook": {"op": "http", "method": "POST", "url": "https://hooks.example.com/vm",
                      "params": {"url": var(f"m{k}.url"), "status": var(f"d{k}.status")},
                      "edges": {"ok": f"{b}.bye", "error": f"{b}.bye"}},
        f"{b}.log": {"op": "log", "message": {"$expr": "template", "src": f"chose ${{r{k}.digits}}"}, "next": f"{b}.bye"},
        f"{b}.bye": {"op": "say", "text": "Goodbye.", "next": f"{b}.end"},
        f"{b}.end": {"op": "hangup"},
    }


def generated(states: int) -> str:
    blocks = states // 10
    flow = {"flowengine": "ir/1", "name": f"generated-{states}", "entry": "b0.greet",
            "variables": {"target": "+15551112222", **{f"tries{k}": 0 for k in range(blocks)}}, "states": {}}
    for k in range(blocks):
        flow["states"].update(block(k, k == blocks - 1))
    return json.dumps(flow, indent=1)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,1000,2000,4000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'states':>7} {'edges':>7} {'compile ms':>11} {'lint ms':>9} {'lint/compile':>13} "
          f"{'compile µs/state':>17} {'lint µs/state':>14} {'findings':>9}")
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        text = generated(size)
        flow = formats.compile_text(text, f"generated-{size}.flow.json")
        edges = sum(len(s.edges) for s in flow.states.values())
        compile_s = best(lambda: formats.compile_text(text, f"generated-{size}.flow.json"), args.repeat)
        lint_s = best(lambda: lint(flow, sources={}), args.repeat)
        findings = len(lint(flow, sources={}).findings)
        rows.append((size, compile_s, lint_s))
        print(f"{size:>7} {edges:>7} {compile_s * 1e3:>11.1f} {lint_s * 1e3:>9.1f} {lint_s / compile_s:>13.2f} "
              f"{compile_s / size * 1e6:>17.1f} {lint_s / size * 1e6:>14.1f} {findings:>9}")
    print("growth from the smallest size (time ratio / size ratio; 1.00 = linear):")
    first = rows[0]
    for size, compile_s, lint_s in rows[1:]:
        scale = size / first[0]
        print(f"  {size:>5} states: compile {compile_s / first[1] / scale:.2f}, lint {lint_s / first[2] / scale:.2f}")


if __name__ == "__main__":
    main()
