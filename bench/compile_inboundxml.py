"""InboundXML compile time against a bare lxml parse of the same bytes (target: compile <= 3x parse).

The document has 200 verbs of every common kind (Say, Play, Pause, Gather with nested prompts and an
action, Dial with an action, Record, Sms, Redirect at the end). The baseline parses the same text with
the same safe lxml parser settings and builds nothing. "compile" is what a live call pays for each
fetched document: parse, names and values (the XSD runs only when the walk finds something to report),
IR states, IR validation (`formats.load_document`), measured cold (cache emptied) and warm (the same document again, as live
calls fetch it). Everything runs in this process, one after another, best of several rounds.

    .venv/bin/python bench/compile_inboundxml.py [--rounds N]
"""

from __future__ import annotations

import argparse
import time

from lxml import etree

from flowengine import formats
from flowengine.formats.inboundxml import _DOCUMENTS, Options
from flowengine.formats.inboundxml.parse import _parser, parse

VERBS = [
    '<Say voice="woman" loop="1">Hello caller number {i}, thank you for calling.</Say>',
    '<Play loop="2">https://cdn.example.com/prompt{i}.wav</Play>',
    '<Pause length="1"/>',
    '<Gather action="https://app.example.com/menu{i}" method="POST" numDigits="1" timeout="5">'
    "<Say>Press one for sales.</Say><Play>https://cdn.example.com/beep.wav</Play></Gather>",
    '<Dial action="https://app.example.com/dial{i}" timeout="20" callerId="+15559870000">+15551112222</Dial>',
    '<Record action="https://app.example.com/rec{i}" maxLength="60" playBeep="true"/>',
    '<Sms to="+15551230000">Message {i}</Sms>',
]


def document(verbs: int = 200) -> str:
    body = "".join(VERBS[i % len(VERBS)].format(i=i) for i in range(verbs - 1))
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Response>{body}<Redirect>https://app.example.com/next</Redirect></Response>'


def best(fn, rounds: int, inner: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    text = document()
    data = text.encode("utf-8")
    url = "https://app.example.com/voice.xml"
    flow = formats.load_document(text, "text/xml", url, "inboundxml")
    lxml_parser = _parser()

    def bare_parse() -> None:
        etree.fromstring(data, lxml_parser)

    def compile_cold() -> None:
        _DOCUMENTS.clear()
        formats.load_document(text, "text/xml", url, "inboundxml")

    def compile_warm() -> None:
        formats.load_document(text, "text/xml", url, "inboundxml")

    def parse_and_check() -> None:
        parse(text, url, Options())

    parse_s = best(bare_parse, args.rounds, 200)
    check_s = best(parse_and_check, args.rounds, 50)
    cold_s = best(compile_cold, args.rounds, 20)
    warm_s = best(compile_warm, args.rounds, 200)
    print(f"document: 200 verbs, {len(data)} bytes, {len(flow.states)} IR states")
    print(f"bare lxml parse              : {parse_s * 1e3:8.3f} ms   1.0x")
    print(f"parse + names/values (+XSD)  : {check_s * 1e3:8.3f} ms {check_s / parse_s:6.1f}x")
    print(f"compile, first time (cold)   : {cold_s * 1e3:8.3f} ms {cold_s / parse_s:6.1f}x   (target <= 3x)")
    print(f"compile, same document again : {warm_s * 1e3:8.3f} ms {warm_s / parse_s:6.1f}x   (document cache)")


if __name__ == "__main__":
    main()
