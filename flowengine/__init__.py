"""flowengine: declarative call flows compiled to one state-machine IR, simulated on a fake channel
and run on live calls through Asterisk or FreeSWITCH."""

__version__ = "0.1.0"

import logging as _logging

# A library logs; the application (the daemon, a test suite) decides where it goes.
_logging.getLogger("flowengine").addHandler(_logging.NullHandler())
