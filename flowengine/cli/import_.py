"""`flowengine import FILE [-o menu.ivr.yaml]`: convert an IVR definition to the unified IVR YAML.

Sources: the hosted-PBX export (pbx), Ytel IVR JSON (ytel-ivr) and FreeSWITCH ivr.conf menus (fs-ivr),
told apart by `--from`, else by the file's suffix and content. The result is checked by compiling it
before it is written, so a file that `import` writes always loads. Exit 0: written; 1: the source is
invalid (diagnostics on stderr); 2: bad usage.
"""

from __future__ import annotations

import sys

from .. import formats
from ..errors import FlowError
from ..structured import read_text
from ._common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, print_diagnostics, write_output

IMPORTERS = ("pbx", "ytel-ivr", "fs-ivr")


def register(sub):
    parser = sub.add_parser("import", help="convert a PBX / Ytel / FreeSWITCH IVR to the unified IVR YAML")
    parser.add_argument("source", metavar="FILE")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    parser.add_argument("--from", dest="source_format", choices=IMPORTERS,
                        help="the source's format (default: from the file name and content)")
    parser.add_argument("--entry", metavar="MENU", help="fs-ivr: the menu callers enter (default: the first)")
    return parser


def run(args) -> int:
    from ..formats.ivr.writer import dump_menu

    try:
        text = read_text(args.source)
        fmt = formats.get(args.source_format) if args.source_format else formats.detect(args.source, text)
        if fmt.name not in IMPORTERS:
            print(f"{args.source}: this is a {fmt.name} flow; import reads {', '.join(IMPORTERS)}", file=sys.stderr)
            return EXIT_USAGE
        options = {"entry": args.entry} if args.entry else {}
        menu, flow = fmt.convert(text, args.source, **options)
    except FlowError as exc:
        print_diagnostics(exc.diagnostics)
        return EXIT_INVALID
    warnings = [d for d in menu.warnings]
    if warnings:
        print_diagnostics(warnings)
    output = dump_menu(menu.data)
    if args.output:
        if not write_output(args.output, output):
            return EXIT_USAGE
        print(f"{args.output}: {len(menu.data.get('contexts', {}))} contexts ({flow.dialect} → ivr)", file=sys.stderr)
    else:
        sys.stdout.write(output)
    return EXIT_OK
