"""The grammar of InboundXML (Ytel) and TwiML (Twilio) as tables: elements, attributes, nesting, defaults.

Rules kept here (sqlglot's "differences are data"):
  * A dialect is a class of tables. `InboundXMLGrammar` is Ytel's dialect (the TelAPI/Zang lineage,
    research digest §3); `TwiMLGrammar` overrides only what Twilio does differently.
  * Every element is a `Spec` keyed by an id (the tag, or e.g. `DialConference` when one tag has two
    meanings); `children` name the specs allowed inside. Attribute names are canonical here and
    looked up case-insensitively by the parser (D9).
  * A default that the sources disagree on lives in one `DEFAULTS` entry with a comment saying
    which [G] decision of the digest (§4.12) it implements.
  * Real attributes or elements that flowengine cannot run are listed (`Unsupported`,
    `UNSUPPORTED_ELEMENTS`) so that using them is a clear E_UNSUPPORTED error, never a silent drop.
The XSD in schemas/ is generated from these tables (xsd.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from .types import (
    BOOL,
    DIRECTION,
    DTMF_SEND,
    FINISH_KEYS,
    FORMAT,
    IF_MACHINE,
    KEY,
    LANGUAGE,
    METHOD,
    PHONE_ID,
    REASON,
    TEXT,
    URL,
    AttrType,
    Enum,
    Int,
    Keys,
    Pattern,
    Unsupported,
)

# Content models: what an element holds besides attributes.
EMPTY = "empty"  # nothing (whitespace only)
TEXT_ONLY = "text"  # text, no child elements (a URL, a number, a message)
SPEECH = "speech"  # text, or SSML child elements (Say)
ELEMENTS = "elements"  # child elements only (Response, Gather)
MIXED = "mixed"  # text or child elements (Dial: a number, or nouns)


@dataclass(frozen=True)
class Spec:
    """One element: its tag, attributes (canonical name → type), allowed children and content model."""

    tag: str
    attrs: dict[str, AttrType] = field(default_factory=dict)
    children: tuple[str, ...] = ()
    content: str = EMPTY
    required: tuple[str, ...] = ()
    doc: str = ""


def _unsupported(why: str, *names: str) -> dict[str, AttrType]:
    return {name: Unsupported(f"is not supported: {why}") for name in names}


VOICES_YTEL = (
    # Ytel's TTS voice keys (digest §6.5) plus the TelAPI/Zang names man/woman/male/female.
    "de-de-premium-female-1", "de-de-premium-female-2", "de-de-premium-male-1", "de-de-premium-male-2",
    "de-de-standard-female-1", "de-de-standard-male-1",
    "en-au-premium-female-1", "en-au-premium-female-2", "en-au-premium-male-1", "en-au-premium-male-2",
    "en-au-standard-female-1", "en-au-standard-female-2", "en-au-standard-male-1", "en-au-standard-male-2",
    "en-gb-premium-female-1", "en-gb-premium-female-2", "en-gb-premium-male-1", "en-gb-premium-male-2",
    "en-gb-standard-female-1", "en-gb-standard-female-2", "en-gb-standard-male-1", "en-gb-standard-male-2",
    "en-us-premium-female-1", "en-us-premium-female-2", "en-us-premium-female-3",
    "en-us-premium-male-1", "en-us-premium-male-2", "en-us-premium-male-3",
    "en-us-standard-female-1", "en-us-standard-female-2", "en-us-standard-male-1", "en-us-standard-male-2",
    "es-es-standard-female-1", "fr-ca-standard-female-1", "fr-ca-standard-female-2",
    "fr-ca-standard-male-1", "fr-ca-standard-male-2", "fr-fr-premium-female-1", "fr-fr-premium-female-2",
    "fr-fr-premium-male-1", "fr-fr-premium-male-2", "fr-fr-standard-female-1", "fr-fr-standard-female-2",
    "fr-fr-standard-male-1", "fr-fr-standard-male-2", "it-it-premium-female-1", "it-it-standard-female-1",
    "ja-jp-premium-female-1", "ja-jp-standard-female-1", "ko-kr-premium-female-1", "ko-kr-standard-female-1",
    "nl-nl-premium-female-1", "nl-nl-standard-female-1", "pt-br-standard-female-1",
    "sv-se-premium-female-1", "sv-se-standard-female-1", "tr-tr-premium-female-1", "tr-tr-standard-female-1",
    "man", "woman", "male", "female",
)

# SSML elements a Say may hold (Ytel's SSML page: break, say-as; the rest are the common SSML 1.1
# elements TTS engines accept). Checked case-insensitively, kept as written.
SSML_TAGS = frozenset({
    "break", "say-as", "emphasis", "prosody", "p", "s", "sub", "phoneme", "lang", "w", "audio", "mark",
    "voice", "speak", "amazon:effect", "amazon:domain",
})

LOOP = Int(0, 1000)  # D8: 0 = forever
GATHER_INPUT = Enum(("dtmf", "speech", "dtmf speech", "speech dtmf"))
PROMPTS = ("Say", "Play", "Pause", "PlayLastRecording")


class InboundXMLGrammar:
    """Ytel InboundXML (research digest §3). The element set follows the Zang XSD plus Ytel's extras."""

    name: ClassVar[str] = "inboundxml"
    ROOT: ClassVar[str] = "Response"

    ELEMENTS: ClassVar[dict[str, Spec]] = {
        "Response": Spec("Response", children=(
            "Say", "Play", "Pause", "Gather", "Dial", "Record", "Redirect", "Hangup", "Reject", "Sms", "Mms",
            "GetSpeech", "PlayLastRecording", "Ping", "Answer", "ResponseConference",
        ), content=ELEMENTS, doc="the document root; verbs run top to bottom"),
        "Say": Spec("Say", {
            "voice": Enum(VOICES_YTEL), "loop": LOOP, "language": LANGUAGE, "type": Enum(("ssml", "text")),
        }, content=SPEECH, doc="text-to-speech; type=ssml allows SSML children"),
        "Play": Spec("Play", {"loop": LOOP, "method": METHOD}, content=TEXT_ONLY,
                     doc="audio URL (mp3/wav) or tone_stream:// tone"),
        "Pause": Spec("Pause", {"length": Int(1, 86_400_000)}, doc="silence; unit per the pause_unit option (D7)"),
        "PlayLastRecording": Spec("PlayLastRecording", doc="plays the call's most recent recording"),
        "Answer": Spec("Answer", doc="answers the call"),
        "Gather": Spec("Gather", {
            "action": URL, "method": METHOD, "timeout": Int(0, 3600, "s"), "finishOnKey": Keys(max_len=1),
            "numDigits": Int(1, 128), "input": GATHER_INPUT, "hints": TEXT, "language": LANGUAGE,
        }, children=PROMPTS, content=ELEMENTS, doc="collects keys (or speech); hands off to action"),
        "GetSpeech": Spec("GetSpeech", {
            "action": URL, "method": METHOD, "timeout": Int(1, 3600, "s"), "playBeep": BOOL, "grammar": URL,
        }, children=PROMPTS, content=ELEMENTS, required=("grammar",), doc="speech recognition with a grammar"),
        "Dial": Spec("Dial", {
            "action": URL, "method": METHOD, "timeout": Int(1, 600, "s"), "timeLimit": Int(1, 86400, "s"),
            "callerId": PHONE_ID, "hideCallerId": BOOL, "dialMusic": URL,
            "callbackUrl": URL, "callbackMethod": METHOD, "heartbeatUrl": URL, "heartbeatMethod": METHOD,
            "groupConfirmKey": KEY, "groupConfirmFile": URL, "hangupOnStar": BOOL, "sendDigits": DTMF_SEND,
            "callerName": TEXT,
            "record": BOOL, "recordDirection": DIRECTION, "recordCallbackUrl": URL, "recordFormat": FORMAT,
            "ifMachine": IF_MACHINE, "ifMachineUrl": URL, "ifMachineMethod": METHOD,
            **_unsupported("the channel protocol has no such dial option",
                           "confirmSound", "digitsMatch", "straightToVm", "forwardedFrom",
                           "outboundAction"),
            **_unsupported("recording retention belongs to the recording store", "recordLifetime"),
        }, children=("Number", "Sip", "DialConference", "User"), content=MIXED,
            doc="calls a number, a comma-separated group (≤ 10), or the nouns inside"),
        "Number": Spec("Number", {
            "sendDigits": DTMF_SEND, "url": URL, "method": METHOD,
            **_unsupported("digits are sent after answer", "sendOnPreanswer"),
        }, content=TEXT_ONLY, doc="a phone number to ring"),
        "Sip": Spec("Sip", {
            "sendDigits": DTMF_SEND,
            **_unsupported("SIP credentials are part of the channel's configuration", "username", "password"),
            **_unsupported("give action and method on <Dial>", "action", "method"),
        }, content=TEXT_ONLY, doc="a sip: URI to ring"),
        "User": Spec("User", {
            "sendDigits": DTMF_SEND,
            **_unsupported("user parameters have no channel equivalent", "params"),
        }, content=TEXT_ONLY, doc="a registered user (dialled as user:<id>)"),
        "DialConference": Spec("Conference", {
            "muted": BOOL, "beep": BOOL, "startConferenceOnEnter": BOOL, "endConferenceOnExit": BOOL,
            "maxParticipants": Int(2, 1000), "callbackUrl": URL, "callbackMethod": METHOD,
            "record": BOOL, "recordCallbackUrl": URL, "recordCallbackMethod": METHOD, "recordFileFormat": FORMAT,
            **_unsupported("the conference primitive has no such option", "waitUrl", "waitMethod", "waitSound",
                           "waitSoundMethod", "timeLimit", "hangupOnStar", "digitsMatch", "stayAlone", "method"),
        }, content=TEXT_ONLY, doc="joins the caller to a conference room (the text)"),
        "ResponseConference": Spec("Conference", {
            "name": TEXT, "conferenceId": TEXT, "callbackUrl": URL, "callbackMethod": METHOD,
            "record": BOOL, "recordCallbackUrl": URL, "recordFormat": FORMAT, "muted": BOOL, "deaf": BOOL,
            "maxParticipants": Int(2, 1000),
            **_unsupported("the conference primitive has no such option", "waitUrl", "hangupOnStar", "stayAlone",
                           "participantKey"),
        }, children=("Participant",), content=ELEMENTS,
            doc="Ytel's conference verb: dials each Participant into the room, then joins the caller"),
        "Participant": Spec("Participant", {"muted": BOOL, "deaf": BOOL}, content=TEXT_ONLY,
                            doc="a number dialled into the conference"),
        "Record": Spec("Record", {
            "action": URL, "method": METHOD, "timeout": Int(1, 3600, "s"), "finishOnKey": Keys(disable=True),
            "maxLength": Int(1, 86400, "s"), "playBeep": BOOL, "fileFormat": FORMAT, "background": BOOL,
            "trimSilence": BOOL, "transcribe": BOOL, "transcribeCallback": URL,
            "transcribeQuality": Enum(("auto", "silver", "gold", "platinum", "manual", "hybrid", "keywords",
                                       "subtitles")),
            "direction": DIRECTION, "bothLegs": BOOL,
            **_unsupported("recordings are made at the channel's rate", "sampleRate"),
            **_unsupported("recordings are not post-processed", "sliceStart", "sliceDuration"),
            **_unsupported("recording retention belongs to the recording store", "lifetime"),
        }, doc="records the caller (blocking) or the call (background)"),
        "Redirect": Spec("Redirect", {"method": METHOD}, content=TEXT_ONLY, doc="continues with another document"),
        "Hangup": Spec("Hangup", {
            "reason": REASON,
            **_unsupported("a delayed hang-up has no channel equivalent; use Dial timeLimit", "schedule"),
        }, doc="ends the call"),
        "Reject": Spec("Reject", {"reason": REASON}, doc="refuses the call without answering"),
        "Sms": Spec("Sms", {
            "to": PHONE_ID, "from": PHONE_ID, "action": URL, "method": METHOD, "statusCallback": URL,
            "statusCallbackMethod": METHOD,
        }, content=TEXT_ONLY, doc="sends a text message"),
        "Mms": Spec("Mms", {
            "to": PHONE_ID, "from": PHONE_ID, "mediaUrl": URL, "action": URL, "method": METHOD,
            "statusCallback": URL, "statusCallbackMethod": METHOD,
        }, content=TEXT_ONLY, required=("mediaUrl",), doc="sends a picture message"),
        "Ping": Spec("Ping", {"method": METHOD}, content=TEXT_ONLY, doc="requests a URL and goes on (no answer used)"),
    }

    UNSUPPORTED_ELEMENTS: ClassVar[dict[str, str]] = {
        "connect": "<Connect>/<Agent> need a contact-centre agent platform, not a call channel",
        "agent": "<Connect>/<Agent> need a contact-centre agent platform, not a call channel",
        "refer": "<Refer> (SIP REFER transfer) is not a channel primitive",
    }

    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {
        # The seed's debug log: no voice given → "Voice Used: en-us-standard-female-1" [S].
        "Say": {"voice": "en-us-standard-female-1", "loop": 1, "type": "text"},
        "Play": {"loop": 1, "method": "GET"},
        "Pause": {"length": 1},
        # D2: numDigits unlimited ([Y]/[T] prose, [R]); D3: action = the current document.
        "Gather": {"method": "POST", "timeout": 5, "finishOnKey": "#", "numDigits": None, "input": "dtmf"},
        "GetSpeech": {"method": "POST", "timeout": 5, "playBeep": False},
        # [Y] Dial: timeout 60 s, timeLimit 14400 s.
        "Dial": {"method": "POST", "timeout": 60, "timeLimit": 14400, "hideCallerId": False,
                 "callbackMethod": "POST", "heartbeatMethod": "POST", "hangupOnStar": False, "record": False,
                 "recordDirection": "both", "ifMachineMethod": "POST"},
        "Number": {"method": "POST"},
        "DialConference": {"muted": False, "beep": True, "startConferenceOnEnter": True,
                           "endConferenceOnExit": False, "callbackMethod": "POST", "record": False,
                           "recordCallbackMethod": "POST"},
        "ResponseConference": {"callbackMethod": "POST", "record": False, "muted": False, "deaf": False},
        "Participant": {"muted": False, "deaf": False},
        # D4: blocking unless the record_background option; D5 playBeep false; D6 finishOnKey "#" [Y].
        "Record": {"method": "POST", "timeout": 5, "finishOnKey": "#", "maxLength": 3600, "playBeep": False,
                   "fileFormat": "mp3", "trimSilence": False, "transcribe": False, "transcribeQuality": "auto",
                   "direction": "both"},
        "Redirect": {"method": "POST"},
        "Reject": {"reason": "rejected"},
        "Sms": {"method": "POST", "statusCallbackMethod": "POST"},
        "Mms": {"method": "POST", "statusCallbackMethod": "POST"},
        "Ping": {"method": "POST"},
    }

    SSML_ALWAYS: ClassVar[bool] = False
    """Say holds SSML children only with type="ssml" (Ytel); TwiML always allows them."""
    ANSWER_FIRST: ClassVar[bool] = False
    """Answer before the first verb that is not Reject (TwiML) instead of lazily (D13)."""
    MAX_GROUP: ClassVar[int] = 10
    """Numbers in one comma-separated Dial group [Y]."""

    @classmethod
    def spec(cls, spec_id: str) -> Spec:
        return cls.ELEMENTS[spec_id]

    @classmethod
    def defaults(cls, spec_id: str) -> dict[str, Any]:
        return cls.DEFAULTS.get(spec_id, {})


class TwiMLGrammar(InboundXMLGrammar):
    """Twilio TwiML voice documents: Twilio's verbs, attributes and defaults (docs/inboundxml.md)."""

    name = "twiml"

    ELEMENTS = {
        "Response": Spec("Response", children=(
            "Say", "Play", "Pause", "Gather", "Dial", "Record", "Redirect", "Hangup", "Reject", "Sms",
        ), content=ELEMENTS, doc="the document root"),
        "Say": Spec("Say", {"voice": TEXT, "loop": LOOP, "language": LANGUAGE}, content=SPEECH,
                    doc="text-to-speech; SSML children allowed"),
        "Play": Spec("Play", {"loop": LOOP, "digits": DTMF_SEND}, content=TEXT_ONLY,
                     doc="audio URL, or DTMF tones with digits"),
        "Pause": Spec("Pause", {"length": Int(1, 86_400_000)}, doc="silence in seconds"),
        "Gather": Spec("Gather", {
            "action": URL, "method": METHOD, "timeout": Int(0, 3600, "s"), "finishOnKey": Keys(max_len=1),
            "numDigits": Int(1, 128), "input": GATHER_INPUT, "hints": TEXT, "language": LANGUAGE,
            "actionOnEmptyResult": BOOL, "bargeIn": BOOL,
            "speechTimeout": Pattern(r"auto|[0-9]{1,4}", "auto or a number of seconds"),
            **_unsupported("speech recognition is configured on the channel",
                           "partialResultCallback", "partialResultCallbackMethod", "profanityFilter",
                           "speechModel", "enhanced", "debug"),
        }, children=("Say", "Play", "Pause"), content=ELEMENTS, doc="collects keys or speech"),
        "Dial": Spec("Dial", {
            "action": URL, "method": METHOD, "timeout": Int(5, 600, "s"), "timeLimit": Int(1, 86400, "s"),
            "callerId": PHONE_ID, "hangupOnStar": BOOL, "answerOnBridge": BOOL,
            "record": Enum(("do-not-record", "record-from-answer", "record-from-ringing",
                            "record-from-answer-dual", "record-from-ringing-dual", "true", "false")),
            "recordingStatusCallback": URL, "recordingStatusCallbackMethod": METHOD,
            "trim": Enum(("trim-silence", "do-not-trim")),
            **_unsupported("the channel protocol has no such dial option", "ringTone", "recordingTrack",
                           "recordingStatusCallbackEvent", "referUrl", "referMethod", "sequential", "events"),
        }, children=("Number", "Client", "Sip", "DialConference"), content=MIXED,
            doc="calls a number or the nouns inside"),
        "Number": Spec("Number", {
            "sendDigits": DTMF_SEND, "url": URL, "method": METHOD,
            **_unsupported("per-leg status callbacks are not supported", "statusCallback", "statusCallbackEvent",
                           "statusCallbackMethod"),
            **_unsupported("the channel protocol has no such dial option", "byoc", "machineDetection",
                           "amdStatusCallback", "amdStatusCallbackMethod"),
        }, content=TEXT_ONLY),
        "Client": Spec("Client", {
            "url": URL, "method": METHOD,
            **_unsupported("per-leg status callbacks are not supported", "statusCallback", "statusCallbackEvent",
                           "statusCallbackMethod"),
        }, content=TEXT_ONLY, doc="a client identity (dialled as client:<id>)"),
        "Sip": Spec("Sip", {
            "url": URL, "method": METHOD,
            **_unsupported("SIP credentials are part of the channel's configuration", "username", "password"),
            **_unsupported("per-leg status callbacks are not supported", "statusCallback", "statusCallbackEvent",
                           "statusCallbackMethod"),
        }, content=TEXT_ONLY),
        "DialConference": Spec("Conference", {
            "muted": BOOL, "beep": Enum(("true", "false", "onEnter", "onExit")),
            "startConferenceOnEnter": BOOL, "endConferenceOnExit": BOOL, "maxParticipants": Int(2, 250),
            "record": Enum(("do-not-record", "record-from-start")), "recordingStatusCallback": URL,
            "recordingStatusCallbackMethod": METHOD,
            **_unsupported("the conference primitive has no such option", "waitUrl", "waitMethod",
                           "statusCallback", "statusCallbackEvent", "statusCallbackMethod", "region", "trim",
                           "coach", "jitterBufferSize", "participantLabel", "eventCallbackUrl",
                           "recordingStatusCallbackEvent"),
        }, content=TEXT_ONLY),
        "Record": Spec("Record", {
            "action": URL, "method": METHOD, "timeout": Int(0, 3600, "s"), "finishOnKey": FINISH_KEYS,
            "maxLength": Int(1, 86400, "s"), "playBeep": BOOL, "trim": Enum(("trim-silence", "do-not-trim")),
            "transcribe": BOOL, "transcribeCallback": URL, "recordingStatusCallback": URL,
            "recordingStatusCallbackMethod": METHOD,
            **_unsupported("recording status events are not supported", "recordingStatusCallbackEvent"),
            **_unsupported("recordings are made at the channel's rate", "recordingChannels", "recordingTrack"),
        }, doc="records the caller"),
        "Redirect": Spec("Redirect", {"method": METHOD}, content=TEXT_ONLY),
        "Hangup": Spec("Hangup"),
        "Reject": Spec("Reject", {"reason": REASON}),
        "Sms": Spec("Sms", {
            "to": PHONE_ID, "from": PHONE_ID, "action": URL, "method": METHOD, "statusCallback": URL,
        }, content=TEXT_ONLY, doc="sends a text message (Twilio's deprecated voice-TwiML verb)"),
    }

    UNSUPPORTED_ELEMENTS = {
        **{tag: f"<{name}> is not supported (it needs {need})" for tag, name, need in (
            ("enqueue", "Enqueue", "Twilio TaskRouter queues"),
            ("leave", "Leave", "Twilio queues"),
            ("queue", "Queue", "Twilio queues"),
            ("connect", "Connect", "media streams or virtual agents"),
            ("stream", "Stream", "a media stream server"),
            ("start", "Start", "media streams or SIPREC"),
            ("stop", "Stop", "media streams or SIPREC"),
            ("siprec", "Siprec", "a SIPREC recorder"),
            ("pay", "Pay", "a payment connector"),
            ("prompt", "Prompt", "a payment connector"),
            ("refer", "Refer", "SIP REFER transfers"),
            ("echo", "Echo", "an echo test service"),
            ("sim", "Sim", "Twilio Programmable Wireless"),
            ("message", "Message", "a messaging TwiML context; use <Sms> in a voice document"),
        )},
    }

    DEFAULTS = {
        **InboundXMLGrammar.DEFAULTS,
        "Say": {"loop": 1},  # Twilio's voice is the platform default (no voice field in the IR)
        "Play": {"loop": 1},
        "Gather": {**InboundXMLGrammar.DEFAULTS["Gather"], "actionOnEmptyResult": False, "bargeIn": True},
        "Dial": {"method": "POST", "timeout": 30, "timeLimit": 14400, "hangupOnStar": False,
                 "record": "do-not-record", "answerOnBridge": False, "trim": "do-not-trim"},
        "DialConference": {"muted": False, "beep": "true", "startConferenceOnEnter": True,
                           "endConferenceOnExit": False, "record": "do-not-record"},
        # Twilio: any key ends a recording, a beep is played, leading/trailing silence is trimmed.
        "Record": {"method": "POST", "timeout": 5, "finishOnKey": "1234567890*#", "maxLength": 3600,
                   "playBeep": True, "trim": "trim-silence", "transcribe": False},
        "Sms": {"method": "POST"},
    }

    SSML_ALWAYS = True
    ANSWER_FIRST = True


GRAMMARS: dict[str, type[InboundXMLGrammar]] = {"inboundxml": InboundXMLGrammar, "twiml": TwiMLGrammar}

# Markers that only a Twilio document uses (detection of TwiML in an "inboundxml" document): an
# `element:x` is a <x> tag, a `verb:attr` an attribute name found anywhere (so never one Ytel also has).
TWIML_MARKERS = frozenset({
    "element:client", "element:enqueue", "element:leave", "element:stream", "element:start",
    "element:pay", "element:echo", "element:siprec",
    "gather:actiononemptyresult", "gather:speechtimeout", "gather:bargein", "gather:partialresultcallback",
    "gather:speechmodel", "gather:enhanced", "gather:profanityfilter",
    "dial:answeronbridge", "dial:ringtone", "dial:recordingstatuscallback", "dial:trim",
    "record:recordingstatuscallback", "record:trim", "play:digits", "number:statuscallbackevent",
})
# Markers that only a Ytel/Zang document uses; any of them keeps the document InboundXML.
YTEL_MARKERS = frozenset({
    "element:getspeech", "element:playlastrecording", "element:ping", "element:mms", "element:answer",
    "element:user", "element:participant",
    "say:type", "record:background", "record:fileformat", "record:trimsilence", "dial:groupconfirmkey",
    "dial:groupconfirmfile", "dial:heartbeaturl", "dial:callbackurl", "dial:dialmusic", "dial:hidecallerid",
    "dial:ifmachine",
})
