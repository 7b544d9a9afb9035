"""The sans-IO FastAGI codec, against the Asterisk 22 captures in shared/wire/."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowengine.channels.asterisk.agi import (
    AWAITING_REPLY,
    CLIENT,
    ERROR,
    IDLE,
    NEED_DATA,
    SERVER,
    AgiCodec,
    AgiCommand,
    AgiEnvironment,
    AgiHangup,
    AgiProgress,
    AgiReply,
    Closed,
    parse_args,
    quote_arg,
)
from flowengine.errors import LocalProtocolError, RemoteProtocolError

from .support import agi_bytes, agi_capture, drain, feed_bytewise, feed_whole

CAPTURES = ["asterisk-agi-flow-caller.log", "asterisk-agi-flow-caller-hangup.log",
            "asterisk-agi-flow-caller-silent.log", "asterisk-agi-dtmf-while-idle.log"]

# (line from Asterisk, the event it is) — the replies seen in the captures, plus res_agi.c formats
REPLY_CASES = [
    ("200 result=0", AgiReply(code=200, result="0")),
    ("200 result=0 endpos=11234", AgiReply(code=200, result="0", endpos=11234)),
    ("200 result=1234", AgiReply(code=200, result="1234")),
    ("200 result= (timeout)", AgiReply(code=200, result="", data="timeout")),
    ("200 result=12 (timeout)", AgiReply(code=200, result="12", data="timeout")),
    ("200 result=-1", AgiReply(code=200, result="-1")),
    ("200 result=49 endpos=8640", AgiReply(code=200, result="49", endpos=8640)),
    ("200 result=35 (dtmf) endpos=24000", AgiReply(code=200, result="35", data="dtmf", endpos=24000)),
    ("200 result=-1 (hangup) endpos=800", AgiReply(code=200, result="-1", data="hangup", endpos=800)),
    ("200 result=1 (a (nested) value)", AgiReply(code=200, result="1", data="a (nested) value")),
    ("200 result=0 Gosub complete", AgiReply(code=200, result="0", text="Gosub complete")),
    ("510 Invalid or unknown command", AgiReply(code=510, text="Invalid or unknown command")),
    ("511 Command Not Permitted on a dead channel or intercept routine",
     AgiReply(code=511, text="Command Not Permitted on a dead channel or intercept routine")),
    ("520 Invalid command syntax.  Proper usage not available.",
     AgiReply(code=520, text="Invalid command syntax.  Proper usage not available.")),
]


def server_after_env() -> AgiCodec:
    codec = AgiCodec(SERVER)
    codec.receive_data(b"agi_network: yes\nagi_channel: PJSIP/a-1\n\n")
    assert type(codec.next_event()) is AgiEnvironment
    return codec


@pytest.mark.parametrize("name", CAPTURES)
@pytest.mark.parametrize("feed", [feed_whole, feed_bytewise], ids=["whole", "bytewise"])
def test_AgiCodec_replays_capture(name, feed):
    """Our side of each real session: the environment parses in wire order, every command we sent
    encodes to the exact bytes Asterisk got, every reply and HANGUP parses."""
    codec = AgiCodec(SERVER)
    lines = agi_capture(name)
    env_end = next(i for i, (d, line) in enumerate(lines) if d == "<<" and line == "")
    env_bytes = b"".join(line.encode() + b"\n" for _, line in lines[: env_end + 1])
    events = feed(codec, env_bytes)
    assert len(events) == 1 and type(events[0]) is AgiEnvironment
    env = events[0]
    assert env.variables[0] == ("agi_network", "yes")
    assert env["agi_network_script"] == "flow"
    assert env["agi_accountcode"] == ""  # the "agi_accountcode: " line with its trailing space
    assert [k for k, _ in env.variables] == [line.split(":")[0] for _, line in lines[:env_end]]
    for direction, line in lines[env_end + 1:]:
        if direction == ">>":
            words = parse_args(line)
            command = AgiCommand(" ".join(words[:2]) if words[0] in ("STREAM", "GET", "SAY", "SET") else words[0],
                                 *(words[2:] if words[0] in ("STREAM", "GET", "SAY", "SET") else words[1:]))
            assert codec.send(command) == line.encode() + b"\n"
        else:
            got = feed(codec, line.encode() + b"\n")
            assert len(got) == 1
            assert type(got[0]) is (AgiHangup if line == "HANGUP" else AgiReply)
    assert codec.state is IDLE


def test_AgiCodec_hangup_before_reply():
    """caller-hangup capture: HANGUP arrives after SET VARIABLE was sent but before its reply."""
    codec = server_after_env()
    codec.send(AgiCommand("SET VARIABLE", "FLOW_RESULT", "-1"))
    events = feed_whole(codec, b"HANGUP\n200 result=1\n")
    assert [type(e) for e in events] == [AgiHangup, AgiReply]
    assert codec.hung_up and codec.state is IDLE


def test_AgiCodec_hangup_while_idle():
    codec = server_after_env()
    assert feed_whole(codec, b"HANGUP\n") == [AgiHangup()]
    assert codec.state is IDLE


@pytest.mark.parametrize("line,event", REPLY_CASES, ids=[c[0][:30] for c in REPLY_CASES])
def test_AgiCodec_reply_table_both_directions(line, event):
    """One table drives the reader (server role) and the writer (client role)."""
    server = server_after_env()
    server.send(AgiCommand("NOOP"))
    for feed in (feed_whole,):
        assert feed(server, line.encode() + b"\n") == [event]
    client = AgiCodec(CLIENT)
    client.send(AgiEnvironment([("agi_network", "yes")]))
    client.receive_data(b"NOOP\n")
    assert type(client.next_event()) is AgiCommand
    assert client.send(event) == line.encode() + b"\n"


@pytest.mark.parametrize("line,event", REPLY_CASES[:6], ids=[c[0][:30] for c in REPLY_CASES[:6]])
def test_AgiCodec_reply_bytewise_and_with_trailing_bytes(line, event):
    codec = server_after_env()
    codec.send(AgiCommand("NOOP"))
    assert feed_bytewise(codec, line.encode() + b"\n") == [event]
    codec = server_after_env()
    codec.send(AgiCommand("NOOP"))
    assert feed_whole(codec, line.encode() + b"\nHANGUP\n200 res") == [event, AgiHangup()]


def test_AgiCodec_multiline_520_usage():
    codec = server_after_env()
    codec.send(AgiCommand("GET DATA"))
    data = (b"520-Invalid command syntax.  Proper usage follows:\n Usage: GET DATA <file to be streamed> [timeout]\n"
            b"  Stream the given file.\n520 End of proper usage.\n")
    events = feed_bytewise(codec, data)
    assert events == [AgiReply(code=520, text="End of proper usage.",
                               usage=" Usage: GET DATA <file to be streamed> [timeout]\n  Stream the given file.")]
    client = AgiCodec(CLIENT)
    client.send(AgiEnvironment([("agi_network", "yes")]))
    client.receive_data(b"GET DATA\n")
    client.next_event()
    assert client.send(events[0]) == data


def test_AgiCodec_progress_keeps_the_command_in_flight():
    codec = server_after_env()
    codec.send(AgiCommand("GOSUB", "sub", "s", "1"))
    events = feed_whole(codec, b"100 result=0 Trying...\n")
    assert events == [AgiProgress(result="0", text="Trying...")] and codec.state is AWAITING_REPLY
    assert feed_whole(codec, b"200 result=0 Gosub complete\n")[0].text == "Gosub complete"


def test_AgiCodec_eof_is_closed():
    codec = server_after_env()
    codec.receive_data(b"")
    assert type(codec.next_event()) is Closed
    assert codec.next_event() is NEED_DATA


def test_AgiCodec_second_command_in_flight_is_a_local_error_and_sticky():
    codec = server_after_env()
    codec.send(AgiCommand("ANSWER"))
    with pytest.raises(LocalProtocolError, match="AgiCommand in state AWAITING_REPLY"):
        codec.send(AgiCommand("ANSWER"))
    assert codec.state is ERROR
    with pytest.raises(LocalProtocolError):
        codec.next_event()


@pytest.mark.parametrize("garbage", [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\n",
                                     b"agi_network yes\n"])
def test_AgiCodec_garbage_environment_is_a_remote_error(garbage):
    codec = AgiCodec(SERVER)
    codec.receive_data(garbage)
    with pytest.raises(RemoteProtocolError):
        codec.next_event()
    assert codec.state is ERROR


def test_AgiCodec_reply_without_command_is_a_remote_error():
    codec = server_after_env()
    codec.receive_data(b"200 result=0\n")
    with pytest.raises(RemoteProtocolError, match="no command is in flight"):
        codec.next_event()


def test_AgiCodec_line_limit():
    codec = AgiCodec(SERVER, max_line=64)
    codec.receive_data(b"agi_x: " + b"a" * 100)
    with pytest.raises(RemoteProtocolError, match="longer than 64"):
        codec.next_event()


def test_AgiCodec_refuses_commands_Asterisk_would_truncate():
    codec = server_after_env()
    with pytest.raises(LocalProtocolError, match="2047"):
        codec.send(AgiCommand("VERBOSE", "x" * 3000))


def test_AgiCommand_refuses_line_breaks():
    with pytest.raises(LocalProtocolError, match="line break"):
        AgiCommand("VERBOSE", "hello\nHANGUP")


def test_AgiCodec_undecodable_bytes_become_replacement_characters():
    codec = AgiCodec(SERVER)
    codec.receive_data("agi_calleridname: Ren\xe9\n\n".encode("latin-1"))
    assert codec.next_event()["agi_calleridname"] == "Ren\ufffd"


def test_AgiCodec_client_role_splits_commands_like_res_agi():
    codec = AgiCodec(CLIENT)
    codec.send(AgiEnvironment([("agi_network", "yes")]))
    codec.receive_data(agi_bytes("asterisk-agi-flow-caller.log", ">>"))
    first = codec.next_event()
    assert first == AgiCommand("ANSWER")
    assert codec.next_event() is NEED_DATA  # Asterisk reads the next command after answering
    codec.send(AgiReply(code=200, result="0"))
    assert codec.next_event() == AgiCommand("STREAM FILE", "hello-world", "")
    codec.send(AgiReply(code=200, result="0", endpos=11234))
    assert codec.next_event() == AgiCommand("GET DATA", "beep", "8000", "6")
    codec.send(AgiReply(code=200, result="1234"))
    assert codec.next_event() == AgiCommand("SAY DIGITS", "1234", "")
    codec.send(AgiReply(code=200, result="0"))
    codec.next_event()
    codec.send(AgiReply(code=200, result="1"))
    assert codec.next_event() == AgiCommand("VERBOSE", "flow done", "1")


def test_AgiCodec_client_unknown_command_keeps_its_first_word():
    codec = AgiCodec(CLIENT)
    codec.send(AgiEnvironment([("agi_network", "yes")]))
    codec.receive_data(b"FROB nicate now\n")
    assert codec.next_event() == AgiCommand("FROB", "nicate", "now", _parsed=True)


def test_parse_args_matches_res_agi():
    assert parse_args('STREAM FILE hello-world ""') == ["STREAM", "FILE", "hello-world", ""]
    assert parse_args(r'VERBOSE "say \"hi\"" 1') == ["VERBOSE", 'say "hi"', "1"]
    assert parse_args("a\\ b\tc") == ["a b", "c"]
    assert parse_args('x"y z"') == ["xy z"]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\n\r\x00", blacklist_categories=("Cs",)), max_size=40))
def test_quote_arg_round_trips_through_parse_args(arg):
    assert parse_args("VERBOSE " + quote_arg(arg))[1:] == [arg]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=20))
def test_AgiCodec_any_split_gives_the_same_events(cuts):
    """A whole capture, cut at arbitrary points, parses to the same events as fed whole."""
    data = agi_bytes("asterisk-agi-flow-caller-hangup.log", "<<")
    env_len = data.index(b"\n\n") + 2
    reference = feed_whole(AgiCodec(SERVER), data[:env_len])
    codec = AgiCodec(SERVER)
    events, position = [], 0
    for cut in cuts:
        chunk = data[position:min(env_len, position + cut)]
        if chunk:  # b"" would mean end of file
            codec.receive_data(chunk)
        events += drain(codec)
        position = min(env_len, position + cut)
    if data[position:env_len]:
        codec.receive_data(data[position:env_len])
    events += drain(codec)
    assert events == reference


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_AgiCodec_garbage_never_crashes(data):
    """Arbitrary bytes give events or RemoteProtocolError, never another exception."""
    for role in (SERVER, CLIENT):
        codec = AgiCodec(role, max_line=128)
        if role == SERVER:
            codec.receive_data(b"agi_network: yes\n\n")
            codec.next_event()
            codec.send(AgiCommand("NOOP"))
        else:
            codec.send(AgiEnvironment([("agi_network", "yes")]))
        try:
            codec.receive_data(data)
            codec.receive_data(b"")
            for _ in range(1000):
                if codec.next_event() is NEED_DATA:
                    break
        except RemoteProtocolError:
            assert codec.state is ERROR
