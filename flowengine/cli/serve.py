"""`flowengine serve -c flowengine.toml`: run flows on live calls (FastAGI + AMI) until SIGTERM.

Exit 0 after a graceful drain; 1 when a routed flow does not compile; 2 when the config is invalid.
`--check` validates the config and compiles every flow, then exits without serving.
"""

from __future__ import annotations

import asyncio
import sys

from ..errors import FlowError
from ._common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, print_diagnostics


def register(sub):
    parser = sub.add_parser("serve", help="run the flow daemon: FastAGI for Asterisk, Event Socket for FreeSWITCH, "
                                          "metrics, call records")
    parser.add_argument("-c", "--config", metavar="TOML", default="flowengine.toml",
                        help="the daemon's config file (default: flowengine.toml)")
    parser.add_argument("--check", action="store_true", help="check the config and compile the flows, then exit")
    return parser


def run(args) -> int:
    from ..daemon.config import ConfigError, load_config
    from ..daemon.logs import setup_logging
    from ..daemon.server import Daemon

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print_diagnostics(exc.diagnostics)
        return EXIT_USAGE
    daemon = Daemon(config)
    if config.control.enabled:
        from ..control import ControlService

        ControlService(daemon).install()
    if args.check:
        try:
            warnings = daemon.registry.load_all()
        except FlowError as exc:
            print_diagnostics(exc.diagnostics)
            return EXIT_INVALID
        if warnings:
            print_diagnostics(warnings)
        print(f"{args.config}: ok ({len(config.routes)} route(s), {len(daemon.registry.entries)} flow(s))")
        return EXIT_OK
    setup_logging(config.daemon.log_level, config.daemon.log_format)
    try:
        asyncio.run(daemon.serve_forever())
    except FlowError as exc:
        print_diagnostics(exc.diagnostics)
        return EXIT_INVALID
    except OSError as exc:
        print(f"flowengine serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
