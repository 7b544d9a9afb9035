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
    engine: str | None = None  # say: TTS engine hint
    barge_in: bool | None = None  # in an input request: None = the request's barge_in


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
    grammar: str | None = None  # URL of a speech grammar the recogniser is held to
    beep: bool = False  # a beep before listening


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
    format: str | None = None  # file format (mp3, wav); None = the backend's
    trim_silence: bool = False
    transcribe: str | None = None  # language to transcribe in; None = no transcription


@dataclass(slots=True)
class RecordResult(Result):
    url: str = ""
    duration: float = 0.0
    reason: str = "silence"  # finish_key | silence | max_length | hangup | interrupted
    digits: str = ""
    transcription: str | None = None  # the text, when the request asked for one (None: none made)


@dataclass(slots=True)
class RecordStartResult(Result):
    url: str = ""


@dataclass(frozen=True, slots=True)
class DialRequest:
    targets: tuple[str, ...]
    timeout: float = 30.0
    caller_id: str | None = None
    caller_name: str | None = None
    # What the flow does once the call is answered, for backends whose dial command also bridges the
    # legs (Asterisk's Dial): the longest bridge, keys to send to the answered party, whether the legs
    # are bridged at all, and whether states run on the answered leg first.
    time_limit: float | None = None
    send_digits: str | None = None
    bridge: bool = True
    on_answer: bool = False
    ringback: str | None = None  # media the dialling leg hears instead of ringing
    hangup_key: str | None = None  # a key the dialling leg presses to end the bridge (the flow goes on)
    detect_machine: bool = False  # answering-machine detection (DialResult.machine)


@dataclass(slots=True)
class DialResult(Result):
    status: str = "failed"  # answered | busy | no-answer | failed | canceled
    answered_by: str | None = None
    machine: bool | None = None  # with detect_machine: whether a machine answered


@dataclass(slots=True)
class BridgeResult(Result):
    duration: float = 0.0
    ended_by: str | None = None  # the leg whose party ended the bridge (None: time limit or key)
    key: str | None = None  # the dial's hangup_key, when the dialling leg ended the bridge with it


@dataclass(frozen=True, slots=True)
class QueueRequest:
    name: str
    max_wait: float | None = None
    exit_key: str | None = None
    # Seconds since the call started after which a caller still waiting leaves the queue with an
    # `interrupted` outcome (the call's lifetime); once answered it no longer applies. The channel
    # enforces it, because the clock's deadline would also cut the conversation.
    wait_deadline: float | None = None


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
    deaf: bool = False
    wait: bool = True  # False: join the leg and return at once (it stays until it hangs up)


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

    async def record_start(self, leg: str, legs: str, *, format: str | None = None,
                           trim_silence: bool = False) -> RecordStartResult:
        """Start a background recording. The interpreter passes `format`/`trim_silence` only when a flow
        sets them (null/false = the backend's own choice)."""
        ...

    async def record_stop(self, leg: str) -> Result: ...

    async def dial(self, leg: str | None, new_leg: str, request: DialRequest) -> DialResult:
        """Call out on `new_leg` (the dialling party is `leg`, None in an API-started run)."""
        ...

    async def bridge(self, leg: str, peer: str, time_limit: float | None = None) -> BridgeResult: ...

    async def queue(self, leg: str, request: QueueRequest) -> QueueResult: ...

    async def conference(self, leg: str, request: ConferenceRequest) -> ConferenceResult: ...
