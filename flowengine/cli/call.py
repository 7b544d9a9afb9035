"""`flowengine call FLOW`: an interactive call in the terminal, on the fake channel.

Shows what the caller hears and what the flow does, one line per event, and asks for keys whenever the
flow waits for input. `--keys 1,2,#` scripts the caller instead (for demos and CI). The rest of the
world (dialled parties, HTTP answers) comes from `-s SCENARIO` when given.
"""

from __future__ import annotations

import sys
from typing import TextIO

from ..channels.fake import CallerInput, InputRequest, ScriptedInputs
from ..errors import FlowError
from ..testing.runner import simulate
from ..testing.scenario import load_scenario
from ..testing.transcript import event_text
from ._common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, add_dialect_option, load_flow_or_report, print_diagnostics

HELP = "keys: digits * # then Enter | Enter alone = no input | h = hang up | r 7 = talk 7 s | s WORDS = speak"


def register(sub):
    parser = sub.add_parser("call", help="play a call in the terminal (fake channel): you are the caller")
    parser.add_argument("flow", metavar="FLOW")
    parser.add_argument("-s", "--scenario", metavar="SCENARIO", help="the rest of the world (dial, http, …)")
    parser.add_argument("--keys", metavar="LIST",
                        help="scripted caller, comma-separated: 1,2,# | timeout | hangup | record:7 | speech:sales")
    add_dialect_option(parser)
    return parser


def parse_entry(text: str) -> CallerInput | None:
    """One caller action from its short written form; None for hang-up."""
    text = text.strip()
    lowered = text.lower()
    if lowered in ("", "timeout", "t", "-"):
        return CallerInput("timeout")
    if lowered in ("h", "hangup", "hang up", "q", "quit"):
        return None
    for prefix in ("record:", "r ", "record "):
        if lowered.startswith(prefix):
            return CallerInput("record", talk=_seconds(text[len(prefix):].strip() or "0"))
    for prefix in ("speech:", "s ", "say "):
        if lowered.startswith(prefix):
            return CallerInput("speech", text=text[len(prefix):].strip(), confidence=0.9)
    keys = "".join(ch for ch in text if ch in "0123456789*#ABCDabcd")
    if keys != text.replace(" ", ""):
        raise ValueError(f"not keys: {text!r} ({HELP})")
    return CallerInput("keys", keys=keys)


def _seconds(text: str) -> float:
    """A recording's length as the scenario schema allows it: 0 to 1e9 seconds."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 1e9:  # also refuses inf and nan
        raise ValueError(f"a recording lasts 0 to 1000000000 seconds, not {text}")
    return value


def describe(request: InputRequest) -> str:
    if request.kind == "record":
        return f"recording (silence ends it after {request.timeout:g}s, keys {request.finish_on_key or 'none'} finish)"
    if request.kind == "bridge":
        return f"connected: press {request.finish_on_key} to hang up on the other party, Enter to talk on"
    what = "speech or keys" if request.kind == "speech" else "keys"
    limit = f"up to {request.max_digits} digit{'s' if request.max_digits != 1 else ''}" if request.max_digits else "any number of digits"
    finish = f", {request.finish_on_key} to finish" if request.finish_on_key else ""
    return f"waiting for {what}: {limit}, timeout {request.timeout:g}s{finish}"


class TerminalCaller:
    """The caller (leg A) typed at the keyboard or scripted with --keys; other legs from the scenario."""

    def __init__(self, scripted: list[str] | None, others: ScriptedInputs, stdin: TextIO, stdout: TextIO):
        self.scripted = list(scripted) if scripted is not None else None
        self.others = others
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = scripted is None and stdin.isatty()

    def add_leg(self, leg: str, inputs: tuple[CallerInput, ...]) -> None:
        self.others.add_leg(leg, inputs)

    def next_input(self, request: InputRequest) -> CallerInput | None:
        if request.leg != "A":
            return self.others.next_input(request)
        out = self.stdout
        for prompt in request.prompts:
            heard = f'"{prompt.text}"' if prompt.kind == "say" else prompt.text or f"{prompt.seconds:g}s"
            print(f"        (hears {prompt.kind} {heard})", file=out)
        print(f"        > {describe(request)}", file=out)
        while True:
            if self.scripted is not None:
                if not self.scripted:
                    print("        < (no more scripted keys: the caller hangs up)", file=out)
                    return None
                line = self.scripted.pop(0)
                print(f"        < {line or 'timeout'}", file=out)
            else:
                if self.interactive:
                    out.write("  keys> ")
                    out.flush()
                line = self.stdin.readline()
                if line == "":
                    print("        < (end of input: the caller hangs up)", file=out)
                    return None
                if not self.interactive:
                    print(f"        < {line.strip() or 'timeout'}", file=out)
            try:
                return parse_entry(line)
            except ValueError as exc:
                if self.scripted is not None:
                    raise
                print(f"        ! {exc}", file=out)


def run(args, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    try:
        scenario = load_scenario(args.scenario)
    except FlowError as exc:
        print_diagnostics(exc.diagnostics)
        return EXIT_USAGE
    scripted = None
    if args.keys is not None:
        scripted = args.keys.split(",")
        try:
            for entry in scripted:
                parse_entry(entry)
        except ValueError as exc:
            print(f"flowengine call: --keys: {exc}", file=sys.stderr)
            return EXIT_USAGE
    flow = load_flow_or_report(args.flow, args.dialect)
    if flow is None:
        return EXIT_INVALID
    caller = TerminalCaller(scripted, ScriptedInputs([]), stdin, stdout)
    print(f"Calling {args.flow} from {scenario.call.from_} (fake channel, virtual clock). {HELP if caller.interactive else ''}".rstrip(),
          file=stdout)
    simulate(flow, scenario, inputs=caller, on_event=lambda e: print(event_text(e), file=stdout, flush=True))
    return EXIT_OK
