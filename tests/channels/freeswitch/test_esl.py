"""The sans-IO ESL codec, against the FreeSWITCH 1.10 captures in shared/wire/ (copied under captures/)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowengine.channels.freeswitch.esl import (
    AUTH,
    CLIENT,
    CLOSED,
    DISCONNECTED,
    ERROR,
    GOODBYE,
    INBOUND,
    OPEN,
    OUTBOUND,
    SERVER,
    ApiResponse,
    AuthRequest,
    ChannelData,
    Closed,
    Command,
    CommandReply,
    DisconnectNotice,
    EslCodec,
    EslEvent,
    Headers,
    RudeRejection,
    sendmsg,
    sendmsg_hangup,
    url_decode,
    url_encode,
)
from flowengine.errors import LocalProtocolError, RemoteProtocolError

from .support import (
    ALL_CAPTURES,
    INBOUND_CAPTURES,
    OUTBOUND_CAPTURES,
    capture,
    drain,
    feed_bytewise,
    feed_whole,
    mode_of,
    parse_command,
    replay_client,
)

GARBAGE = [b"\x00\xff\xfe garbage\n\n", b"Content-Type: text/nonsense\n\n", b"no colon here\n\n",
           b"Content-Length: 99999999999\n\n", b"Content-Type: command/reply\nReply-Text: +OK\n\n"]


def summary(messages: list) -> list[tuple]:
    """What a reader cares about in each message: its type, event name and key headers."""
    out = []
    for m in messages:
        if isinstance(m, EslEvent):
            out.append(("event", m.name, m.get("Application"), m.get("DTMF-Digit"), m.get("Application-UUID")))
        elif isinstance(m, (CommandReply, ChannelData)):
            out.append((type(m).__name__, m.get("Reply-Text")))
        elif isinstance(m, DisconnectNotice):
            out.append(("disconnect", m.disposition, m.body))
        else:
            out.append((type(m).__name__,))
    return out


# -- every capture, whole, byte by byte, with trailing garbage -----------------------------------------------


@pytest.mark.parametrize("name", ALL_CAPTURES)
def test_EslCodec_reads_each_capture_whole_and_byte_by_byte_alike(name):
    whole = replay_client(name, feed_whole)
    assert whole == replay_client(name, feed_bytewise)
    served = [d for d, _ in capture(name) if d == "<<"]
    assert len(whole) == len(served)  # one message per packet the switch wrote


@pytest.mark.parametrize("name", ALL_CAPTURES)
@pytest.mark.parametrize("garbage", GARBAGE)
def test_EslCodec_trailing_garbage_is_a_RemoteProtocolError_or_more_data(name, garbage):
    codec = EslCodec(CLIENT, mode_of(name))
    for direction, data in capture(name):
        if direction == ">>":
            codec.send(parse_command(data))
        else:
            feed_whole(codec, data)
    codec.receive_data(garbage)
    try:
        drain(codec)
    except RemoteProtocolError:
        assert codec.state is ERROR
        with pytest.raises(LocalProtocolError):
            codec.next_event()  # sticky


@pytest.mark.parametrize("name", ALL_CAPTURES)
def test_EslCodec_server_role_writes_every_captured_packet_byte_for_byte(name):
    """Parse each packet as the client does, write it back as the switch: the same bytes."""
    reader = EslCodec(CLIENT, mode_of(name))
    writer = EslCodec(SERVER, mode_of(name))
    for direction, data in capture(name):
        if direction == ">>":
            reader.send(parse_command(data))
            writer.receive_data(data)
            assert drain(writer) == [parse_command(data)]
        else:
            (message,) = feed_whole(reader, data)
            assert writer.send(message) == data


@pytest.mark.parametrize("name", ALL_CAPTURES)
def test_EslCodec_client_role_writes_every_captured_command_byte_for_byte(name):
    codec = EslCodec(CLIENT, mode_of(name))
    for direction, data in capture(name):
        if direction == ">>":
            assert codec.send(parse_command(data)) == data
        else:
            feed_whole(codec, data)


# -- the wire facts of the captures ---------------------------------------------------------------------------


def test_EslCodec_outbound_connect_reply_is_the_raw_url_encoded_channel_data():
    messages = replay_client("sip-ast2fs-esl-outbound.log", feed_whole)
    data = messages[0]
    assert type(data) is ChannelData and data.ok
    assert data["Reply-Text"] == "+OK\n"  # %2BOK%0A
    assert data["Socket-Mode"] == "async" and data["Control"] == "full"
    assert data["Channel-Name"] == "sofia/lo/5551234@127.0.0.1"  # %40 decoded
    assert data.uuid == "95f92360-eae4-4536-af71-79fbda590fd7"
    assert data.headers.items[-4:][0] == ("Content-Type", "command/reply")  # appended at the end


def test_EslCodec_reply_texts_and_the_linger_notice_of_an_outbound_call():
    messages = replay_client("freeswitch-esl-outbound-5000.log", feed_whole)
    replies = [m.reply_text for m in messages if type(m) is CommandReply]
    assert replies[:2] == ["+OK Events Enabled", "+OK will linger"] and set(replies[2:]) == {"+OK"}
    notice = messages[-1]
    assert type(notice) is DisconnectNotice and notice.disposition == "linger"
    assert notice["Linger-Time"] == "-1" and notice.body == ""


def test_EslCodec_execute_complete_carries_our_application_uuid_and_variables():
    messages = replay_client("freeswitch-esl-outbound-5000.log", feed_whole)
    complete = [m for m in messages if type(m) is EslEvent and m.name == "CHANNEL_EXECUTE_COMPLETE"
                and m["Application"] == "play_and_get_digits"][0]
    assert complete["Application-UUID"] == "79085ff3-7c9b-4940-b6aa-99de3b25e5af"
    assert complete["Application-Response"] == "_none_"
    assert complete["variable_collected_digits"] == "1234"
    assert complete["variable_read_terminator_used"] == "#"  # %23
    assert complete["Application-Data"].startswith("1 6 1 8000 # tone_stream://%(200,0,800)")


def test_EslCodec_dtmf_hash_arrives_url_encoded_and_is_decoded():
    messages = replay_client("freeswitch-esl-outbound-5000.log", feed_whole)
    assert "".join(m["DTMF-Digit"] for m in messages if type(m) is EslEvent and m.name == "DTMF") == "1234#"


def test_EslCodec_a_repeated_header_reads_first_with_get_and_all_with_get_all():
    messages = replay_client("freeswitch-esl-outbound-5000.log", feed_whole)
    complete = [m for m in messages if type(m) is EslEvent and m.name == "CHANNEL_HANGUP_COMPLETE"][0]
    assert complete.get_all("Hangup-Cause") == ["NORMAL_CLEARING", "NORMAL_CLEARING"]
    assert complete["hangup-cause"] == "NORMAL_CLEARING"  # names are case-insensitive
    assert complete.get("No-Such-Header") is None
    with pytest.raises(KeyError):
        complete["No-Such-Header"]


def test_EslCodec_background_job_has_two_content_lengths_and_a_body():
    messages = replay_client("freeswitch-esl-inbound-5000.log", feed_whole)
    assert type(messages[0]) is AuthRequest
    job = [m for m in messages if type(m) is EslEvent and m.name == "BACKGROUND_JOB"][0]
    assert job.body == "+OK b54bd61f-70ef-402d-a64e-7d7efa00eee4\n"
    assert "Content-Length" not in job.headers  # it framed the 41-byte body
    reply = [m for m in messages if type(m) is CommandReply and m.job_uuid][0]
    assert reply.job_uuid == job["Job-UUID"] == "2d6ae2db-c2d6-4e05-ac52-a67fbbe84270"
    api = [m for m in messages if type(m) is ApiResponse][0]
    assert api.ok and api.body.startswith("UP 0 years")


@pytest.mark.parametrize("name", INBOUND_CAPTURES)
def test_EslCodec_exit_ends_with_the_goodbye_notice_then_close(name):
    codec = EslCodec(CLIENT, INBOUND)
    messages = []
    for direction, data in capture(name):
        if direction == ">>":
            codec.send(parse_command(data))
        else:
            messages += feed_whole(codec, data)
    assert messages[-2].reply_text == "+OK bye"
    assert type(messages[-1]) is DisconnectNotice and messages[-1].body == GOODBYE and len(GOODBYE) == 67
    assert codec.state is DISCONNECTED
    assert feed_whole(codec, b"") == [Closed()] and codec.state is CLOSED
    with pytest.raises(LocalProtocolError):
        codec.send(Command("api status"))


@pytest.mark.parametrize("name", OUTBOUND_CAPTURES)
def test_EslCodec_outbound_conversations_stay_open_after_the_linger_notice(name):
    codec = EslCodec(CLIENT, OUTBOUND)
    for direction, data in capture(name):
        if direction == ">>":
            codec.send(parse_command(data))
        else:
            feed_whole(codec, data)
    assert codec.state is OPEN and codec.lingering and not codec.pending


# -- the state machine -----------------------------------------------------------------------------------------


def test_EslCodec_outbound_starts_with_connect():
    codec = EslCodec(CLIENT, OUTBOUND)
    with pytest.raises(LocalProtocolError, match="starts with connect"):
        codec.send(Command("myevents"))
    assert codec.state is ERROR


def test_EslCodec_inbound_waits_for_auth_request_then_auth():
    codec = EslCodec(CLIENT, INBOUND)
    with pytest.raises(LocalProtocolError):
        codec.send(Command("api status"))
    codec = EslCodec(CLIENT, INBOUND)
    assert feed_whole(codec, b"Content-Type: auth/request\n\n") == [AuthRequest()]
    assert codec.state is AUTH
    with pytest.raises(LocalProtocolError, match="asked for auth"):
        codec.send(Command("api status"))


def test_EslCodec_a_refused_password_disconnects():
    codec = EslCodec(CLIENT, INBOUND)
    feed_whole(codec, b"Content-Type: auth/request\n\n")
    codec.send(Command("auth wrong"))
    (reply,) = feed_whole(codec, b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n")
    assert not reply.ok and codec.state is DISCONNECTED
    data = b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n" + GOODBYE.encode()
    assert feed_whole(codec, data) == [DisconnectNotice.goodbye()]
    assert feed_whole(codec, b"") == [Closed()]


def test_EslCodec_the_acl_rejection_is_a_rude_rejection():
    codec = EslCodec(CLIENT, INBOUND)
    data = b"Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n"
    assert feed_whole(codec, data) == [RudeRejection()]
    assert codec.state is DISCONNECTED
    assert EslCodec(SERVER, INBOUND).send(RudeRejection()) == data


def test_EslCodec_a_reply_nobody_asked_for_is_a_RemoteProtocolError_and_sticks():
    codec = EslCodec(CLIENT, OUTBOUND)
    codec.send(Command("connect"))
    with pytest.raises(RemoteProtocolError, match="can't answer"):
        feed_whole(codec, b"Content-Type: api/response\nContent-Length: 3\n\n+OK")
    assert codec.state is ERROR
    with pytest.raises(RemoteProtocolError):
        codec.receive_data(b"more")


def test_EslCodec_replies_are_matched_in_command_order_while_events_interleave():
    codec = connected_client()
    codec.send(Command("api uuid_break u1"))
    codec.send(sendmsg("answer", event_uuid="a1"))
    assert list(codec.pending) == ["api", "command"]
    event = EslEvent(Headers([("Event-Name", "DTMF"), ("DTMF-Digit", "#")]))
    data = (connected_server().send(event)
            + b"Content-Type: command/reply\nReply-Text: -ERR no such channel\n\n"
            + b"Content-Type: command/reply\nReply-Text: +OK\n\n")
    messages = feed_whole(codec, data)
    assert [type(m) for m in messages] == [EslEvent, CommandReply, CommandReply]
    assert messages[0]["DTMF-Digit"] == "#" and not messages[1].ok and messages[2].ok
    assert not codec.pending


def test_EslCodec_limits_bound_the_header_block_and_the_body():
    codec = EslCodec(CLIENT, OUTBOUND, max_head=64)
    codec.send(Command("connect"))
    with pytest.raises(RemoteProtocolError, match="header block longer"):
        feed_whole(codec, b"Event-Name: " + b"x" * 100)
    codec = EslCodec(CLIENT, OUTBOUND, max_body=10)
    codec.send(Command("connect"))
    with pytest.raises(RemoteProtocolError, match="exceeds"):
        feed_whole(codec, b"Content-Length: 11\nContent-Type: text/event-plain\n\n")


def test_EslCodec_refuses_xml_events():
    codec = EslCodec(CLIENT, OUTBOUND)
    codec.send(Command("connect"))
    with pytest.raises(LocalProtocolError, match="xml"):
        codec.send(Command("myevents xml"))


def connected_client() -> EslCodec:
    codec = EslCodec(CLIENT, OUTBOUND)
    codec.send(Command("connect"))
    feed_whole(codec, b"Event-Name: CHANNEL_DATA\nContent-Type: command/reply\nReply-Text: %2BOK%0A\n\n")
    return codec


def connected_server() -> EslCodec:
    codec = EslCodec(SERVER, OUTBOUND)
    codec.receive_data(b"connect\n\n")
    drain(codec)
    codec.send(ChannelData(Headers([("Content-Type", "command/reply"), ("Reply-Text", "+OK\n")])))
    return codec


def test_EslCodec_reads_and_writes_json_events():
    body = json.dumps({"Event-Name": "BACKGROUND_JOB", "Job-UUID": "j1", "Multi": ["a", "b"],
                       "Content-Length": "6", "_body": "+OK u\n"}).encode()
    codec = connected_client()
    (event,) = feed_whole(codec, b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(body) + body)
    assert event.format == "json" and event.name == "BACKGROUND_JOB" and event.body == "+OK u\n"
    assert event.get_all("Multi") == ["a", "b"]
    assert feed_whole(codec, connected_server().send(event)) == [event]


def test_EslCodec_an_event_body_must_match_its_own_content_length():
    codec = connected_client()
    body = b"Event-Name: BACKGROUND_JOB\nContent-Length: 5\n\n+OK\n"
    with pytest.raises(RemoteProtocolError, match="does not match"):
        feed_whole(codec, b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body)


def test_EslCodec_server_role_reads_command_bodies_and_tolerates_crlf():
    codec = EslCodec(SERVER, OUTBOUND)
    codec.receive_data(b"connect\r\n\r\n")
    assert drain(codec) == [Command("connect")]
    codec.send(ChannelData(Headers([("Content-Type", "command/reply"), ("Reply-Text", "+OK\n")])))
    command = sendmsg("speak", "flite|kal|Line one\nLine two", event_uuid="s1")
    assert command.get("execute-app-arg") is None and command.body == "flite|kal|Line one\nLine two"
    codec.receive_data(connected_client().send(command))
    (parsed,) = drain(codec)
    assert parsed.line == "sendmsg" and parsed.body == command.body and parsed["content-type"] == "text/plain"


def test_sendmsg_builds_the_captured_packets():
    played = sendmsg("playback", "tone_stream://%(1000,0,440)", event_uuid="42aefdf8-d0a5-48ba-ae16-53a138eef6ae")
    captured = [parse_command(data) for direction, data in capture("freeswitch-esl-outbound-5000.log")
                if direction == ">>"]
    assert played in captured
    assert sendmsg_hangup("USER_BUSY").get("hangup-cause") == "USER_BUSY"
    with pytest.raises(LocalProtocolError):
        Command("bad\nline")


# -- URL encoding -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, encoded", [
    ("1234#", "1234%23"), ("+OK\n", "%2BOK%0A"), ("sofia/lo/5551234@127.0.0.1", "sofia/lo/5551234%40127.0.0.1"),
    ("tone_stream://%(1000,0,440)", "tone_stream%3A//%25(1000,0,440)"), ("a*b,c", "a*b,c"),
    ("café", "caf%C3%A9"), ("%41", "%41"),  # an existing %XX is kept (switch_url_encode without double encoding)
])
def test_url_encode_follows_switch_url_encode(raw, encoded):
    assert url_encode(raw) == encoded


def test_url_decode_replaces_invalid_utf8():
    assert url_decode("%FF%23") == "\ufffd#"


# -- properties ------------------------------------------------------------------------------------------------

_OUTBOUND_BYTES = [data for direction, data in capture("freeswitch-esl-outbound-5001.log") if direction == "<<"]
_OUTBOUND_COMMANDS = [parse_command(data) for direction, data in capture("freeswitch-esl-outbound-5001.log")
                      if direction == ">>"]


def _replay_split(cuts: list[int]) -> list:
    codec = EslCodec(CLIENT, OUTBOUND)
    for command in _OUTBOUND_COMMANDS:
        codec.send(command)
    data = b"".join(_OUTBOUND_BYTES)
    messages = []
    previous = 0
    for cut in sorted(set(c % (len(data) + 1) for c in cuts)) + [len(data)]:
        if cut > previous:  # b"" would mean end of file
            codec.receive_data(data[previous:cut])
            messages += drain(codec)
            previous = cut
    return messages


_EXPECTED = _replay_split([])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=10**7), max_size=40))
def test_EslCodec_arbitrary_splits_give_the_same_messages(cuts):
    assert summary(_replay_split(cuts)) == summary(_EXPECTED)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([CLIENT, SERVER]), st.sampled_from([INBOUND, OUTBOUND]))
def test_EslCodec_garbage_never_raises_anything_but_RemoteProtocolError(data, role, mode):
    codec = EslCodec(role, mode)
    if role == CLIENT and mode == OUTBOUND:
        codec.send(Command("connect"))
    elif role == SERVER and mode == INBOUND:
        codec.send(AuthRequest())
    try:
        codec.receive_data(data)
        drain(codec)
        codec.receive_data(b"")
        drain(codec)
    except RemoteProtocolError:
        assert codec.state is ERROR


# -- genesis as an oracle --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_CAPTURES)
def test_EslCodec_agrees_with_genesis_on_every_captured_event(name):
    """genesis (the maintained asyncio ESL library) parses header blocks with a line reader of its own; fed
    the raw captured bytes of every event and CHANNEL_DATA block, it reads the same names and values."""
    from genesis.protocol.parser import parse_headers

    raw = [data for direction, data in capture(name) if direction == "<<"]
    checked = 0
    for data, message in zip(raw, replay_client(name, feed_whole)):
        if type(message) is EslEvent:
            block = data.split(b"\n\n", 1)[1].split(b"\n\n", 1)[0]  # the event's own headers
        elif type(message) is ChannelData:
            block = data
        else:
            continue
        theirs = parse_headers(block.decode("utf-8"))
        for key, value in message.headers:
            expected = theirs[key]
            assert value == expected or value in (expected if isinstance(expected, list) else ()), key
        checked += 1
    assert checked > 10
