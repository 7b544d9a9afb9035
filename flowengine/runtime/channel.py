"""The Channel protocol: the call primitives a backend implements, and their typed results.

The interpreter never asks which channel it has (fake, Asterisk or FreeSWITCH). Legs are named by
letters the interpreter assigns (A = the inbound caller or first outbound leg, then B, C… per dial).
Outcomes are values, never exceptions: every result carries `outcome`:

    ok           the primitive finished
    hangup       a party hung up while it ran (`hangup_leg` says who)
    interrupted  the clock's deadline (call lifetime, time budget) cut it short

Any exception a channel raises other than ChannelError is a bug in that channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

OK = "ok"
HANGUP = "hangup"
INTERRUPTED = "interrupted"

PromptKind = Literal["say", "play", "silence", "say_digits"]


@dataclass(frozen=True, slots=True)
class Prompt:
    """One piece of audio: TTS text, a media URL, a pause, or digits read out."""

    kind: PromptKind
    text: str = ""  # say: the text; play: the URL; say_digits: the digits
    seconds: float = 0.0  # silence
    voice: str | None = None
    language: str | None = None
    ssml: bool = False
    method: str | None = None  # say_digits hint


@dataclass(slots=True)
class Result:
    outcome: str = OK
    hangup_leg: str | None = None


@dataclass(slots=True)
class PromptOutcome:
    """How one prompt of an input request went: played to the end, or cut by a key at `ended_at`."""

    index: int
    ended_at: float
    interrupted: bool = False


@dataclass(frozen=True, slots=True)
class CollectRequest:
    prompts: tuple[Prompt, ...] = ()
    max_digits: int | None = 1
    min_digits: int = 1
    timeout: float = 5.0
    inter_digit_timeout: float = 5.0
    finish_on_key: str = "#"  # "" = no finish key
    barge_in: bool = True
    choices: tuple[str, ...] | None = None
    early_match: bool = False


@dataclass(slots=True)
class CollectResult(Result):
    digits: str = ""
    reason: str = "timeout"  # finish_key | max_digits | timeout | match | hangup | interrupted
    prompts: list[PromptOutcome] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SpeechRequest:
    prompts: tuple[Prompt, ...] = ()
    hints: tuple[str, ...] = ()
    language: str | None = None
    timeout: float = 5.0
    dtmf: bool = False
    max_digits: int | None = None
    finish_on_key: str = "#"


@dataclass(slots=True)
class SpeechResult(Result):
    text: str = ""
    confidence: float | None = None
    digits: str = ""
    reason: str = "timeout"  # speech | dtmf | timeout | hangup | interrupted
    prompts: list[PromptOutcome] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RecordRequest:
    max_length: float = 3600.0
    finish_on_key: str = "#"
    beep: bool = False
    silence_timeout: float = 5.0


@dataclass(slots=True)
class RecordResult(Result):
    url: str = ""
    duration: float = 0.0
    reason: str = "silence"  # finish_key | silence | max_length | hangup | interrupted
    digits: str = ""


@dataclass(slots=True)
class RecordStartResult(Result):
    url: str = ""


@dataclass(frozen=True, slots=True)
class DialRequest:
    targets: tuple[str, ...]
    timeout: float = 30.0
    caller_id: str | None = None


@dataclass(slots=True)
class DialResult(Result):
    status: str = "failed"  # answered | busy | no-answer | failed | canceled
    answered_by: str | None = None


@dataclass(slots=True)
class BridgeResult(Result):
    duration: float = 0.0
    ended_by: str | None = None  # the leg whose party ended the bridge (None: time limit)


@dataclass(frozen=True, slots=True)
class QueueRequest:
    name: str
    max_wait: float | None = None
    exit_key: str | None = None


@dataclass(slots=True)
class QueueResult(Result):
    status: str = "no_agents"  # answered | answered/agent_hangup | answered/caller_hangup | timeout | exit:<k> | no_agents
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class ConferenceRequest:
    room: str
    muted: bool = False
    beep: bool = True
    start_on_enter: bool = True
    end_on_exit: bool = False
    max_participants: int | None = None


@dataclass(slots=True)
class ConferenceResult(Result):
    duration: float = 0.0


class Channel(Protocol):
    """Call primitives. Each returns when the primitive is over (or cut short: see `outcome`)."""

    async def answer(self, leg: str) -> Result: ...

    async def ringing(self, leg: str) -> Result: ...

    async def reject(self, leg: str, reason: str) -> Result: ...

    async def hangup(self, leg: str, cause: str | int | None = None) -> Result: ...

    async def play(self, leg: str, prompt: Prompt) -> Result:
        """Play one prompt (say, play, silence or say_digits) once."""
        ...

    async def send_dtmf(self, leg: str, digits: str) -> Result: ...

    async def collect(self, leg: str, request: CollectRequest) -> CollectResult: ...

    async def speech(self, leg: str, request: SpeechRequest) -> SpeechResult: ...

    async def record(self, leg: str, request: RecordRequest) -> RecordResult: ...

    async def record_start(self, leg: str, legs: str) -> RecordStartResult: ...

    async def record_stop(self, leg: str) -> Result: ...

    async def dial(self, leg: str | None, new_leg: str, request: DialRequest) -> DialResult:
        """Call out on `new_leg` (the dialling party is `leg`, None in an API-started run)."""
        ...

    async def bridge(self, leg: str, peer: str, time_limit: float | None = None) -> BridgeResult: ...

    async def queue(self, leg: str, request: QueueRequest) -> QueueResult: ...

    async def conference(self, leg: str, request: ConferenceRequest) -> ConferenceResult: ...
