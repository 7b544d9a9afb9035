"""Type-ahead for AGI: keys the caller pressed while no AGI command was reading them, seen on AMI.

AGI hears DTMF only while a command that reads keys runs (GET DATA, WAIT FOR DIGIT, STREAM FILE with
escape digits); between commands res_agi's idle loop reads and drops them (shared/wire/
asterisk-*-dtmf-while-idle). AMI still reports every key as `DTMFEnd` (Direction: Received) on the
channel, and frames each AGI command with `AGIExecStart`/`AGIExecEnd` events on the same, ordered stream.
So the AMI stream alone says, for every key, which command (if any) was running when it was pressed.

Rules kept here:
  * The channel announces each command it writes with a policy, in order: READ (AGI returns the keys
    it hears), DISCARD (keys are meant to be ignored: prompts without barge-in) or BUFFER (AGI loses
    them: they become type-ahead). AGIExecStart takes the next policy; keys outside any command buffer.
  * Before listening, the channel waits (briefly) until AMI has reported the end of every command
    written so far, so the buffer is complete up to that point.
  * No AGIExec events ever seen (the AMI user lacks the `agi` read class): type-ahead switches itself
    off for the call, because keys AGI did return could otherwise be counted twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from .ami import AmiEvent

log = logging.getLogger("flowengine.asterisk")

READ = "read"
DISCARD = "discard"
BUFFER = "buffer"


class TypeAhead:
    """Per-call key buffer fed by the AMI events of one channel (matched by Uniqueid)."""

    def __init__(self, uniqueid: str, *, sync_timeout: float = 0.25):
        self.uniqueid = uniqueid
        self.sync_timeout = sync_timeout
        self.enabled = True
        self.active = False  # an AGIExecStart for this channel was seen
        self._policies: deque[str] = deque()
        self._current: str | None = None
        self._buffer: list[str] = []
        self._sent = 0
        self._ended = 0
        self._progress = asyncio.Event()

    # -- from the channel ---------------------------------------------------------------------------

    def command_sent(self, policy: str) -> None:
        self._policies.append(policy)
        self._sent += 1

    async def sync(self) -> bool:
        """Wait until AMI reported the end of every command sent; False when type-ahead is off."""
        if not self.enabled:
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.sync_timeout
        while self._ended < self._sent:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._progress.clear()
            try:
                await asyncio.wait_for(self._progress.wait(), remaining)
            except asyncio.TimeoutError:
                break
        if not self.active and self._sent:
            self.enabled = False
            log.warning("type-ahead off for channel %s: AMI sends no AGIExec events (give the AMI user "
                        "read permission for the 'agi' class)", self.uniqueid)
            return False
        return True

    def take(self) -> str:
        """The buffered keys, oldest first (the buffer is emptied)."""
        if not self.enabled or not self.active:
            return ""
        keys, self._buffer = "".join(self._buffer), []
        return keys

    def unread(self, keys: str) -> None:
        """Put back keys a collect did not use, ahead of anything pressed since."""
        if keys:
            self._buffer[:0] = list(keys)

    def clear(self) -> None:
        self._buffer.clear()

    # -- from AMI -----------------------------------------------------------------------------------

    def on_event(self, event: AmiEvent) -> None:
        name = event.name
        if name == "AGIExecStart":
            self.active = True
            self._current = self._policies.popleft() if self._policies else READ
        elif name == "AGIExecEnd":
            self._current = None
            self._ended += 1
            self._progress.set()
        elif name == "DTMFEnd" and event.get("Direction") == "Received":
            digit = event.get("Digit") or ""
            if len(digit) == 1 and self._current in (None, BUFFER):
                self._buffer.append(digit)
