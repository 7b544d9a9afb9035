"""Asterisk: the FastAGI channel, the AGI and AMI codecs, the AMI client and TTS for file players.

See docs/asterisk.md. The codecs (`agi`, `ami`) are sans-IO and shared with the fake Asterisk in
`flowengine.testing.fake_asterisk`; everything else sits on them. `legs` runs dialled legs' own states
(Dial's U() subroutine).
"""

from .channel import AsteriskChannel, AsteriskOptions, capability_warnings
from .fastagi import AgiConnection, FastAgiServer
from .amiclient import AmiClient
from .legs import LegSessions

__all__ = ["AsteriskChannel", "AsteriskOptions", "capability_warnings", "AgiConnection", "FastAgiServer",
           "AmiClient", "LegSessions"]
