"""Asterisk: the FastAGI channel, the AGI and AMI codecs, the AMI client and TTS for file players.

See docs/asterisk.md. The codecs (`agi`, `ami`) are sans-IO and shared with the fake Asterisk in
`flowengine.testing.fake_asterisk`; everything else sits on them.
"""

from .channel import AsteriskChannel, AsteriskOptions, capability_warnings
from .fastagi import AgiConnection, FastAgiServer
from .amiclient import AmiClient

__all__ = ["AsteriskChannel", "AsteriskOptions", "capability_warnings", "AgiConnection", "FastAgiServer",
           "AmiClient"]
