"""The sans-IO AMI codec and the ActionTracker, against the Asterisk 22 captures."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowengine.channels.asterisk.ami import (
    CLIENT,
    ERROR,
    NEED_DATA,
    PENDING,
    SERVER,
    TOO_MANY_LINES,
    ActionTracker,
    AmiAction,
    AmiActionTooLong,
    AmiBanner,
    AmiCodec,
    AmiEvent,
    AmiResponse,
    Closed,
    Completion,
)
from flowengine.errors import LocalProtocolError, RemoteProtocolError

from .support import ami_capture, drain, feed_bytewise, feed_whole


def test_ami_capture_reader_sees_crlf_messages():
    messages = ami_capture("asterisk-ami-flow-caller.log")
    assert messages[0] == ("<<", b"Asterisk Call Manager/11.0.0\r\n")
    assert messages[1][1].startswith(b"Action: Login\r\nActionID: login-1\r\n")


@pytest.mark.parametrize("name", ["asterisk-ami-flow-caller.log", "asterisk-ami-flow-caller-hangup.log",
                                  "asterisk-ami-dtmf-while-idle.log"])
def test_AmiCodec_client_replays_capture(name):
    """Everything Asterisk sent, fed to the client codec whole and byte by byte."""
    inbound = b"".join(data for direction, data in ami_capture(name) if direction == "<<")
    whole = feed_whole(AmiCodec(CLIENT), inbound)
    bytewise = feed_bytewise(AmiCodec(CLIENT), inbound)
    assert whole == bytewise
    assert whole[0] == AmiBanner("11.0.0")
    responses = [m for m in whole if type(m) is AmiResponse]
    assert [r.message for r in responses] == ["Authentication accepted", "Originate successfully queued",
                                              "Thanks for all the fish."]
    names = [m.name for m in whole if type(m) is AmiEvent]
    assert "OriginateResponse" in names and "FullyBooted" in names
    dtmf = [m["Digit"] for m in whole if type(m) is AmiEvent and m.name == "DTMFEnd"]
    assert dtmf in ([], list("1234#"))
    originate = next(m for m in whole if type(m) is AmiEvent and m.name == "OriginateResponse")
    assert originate.action_id == "orig-1" and originate["Reason"] == "4"


def test_AmiCodec_client_actions_encode_as_captured():
    sent = [data for direction, data in ami_capture("asterisk-ami-flow-caller.log") if direction == ">>"]
    codec = AmiCodec(CLIENT)
    login = AmiAction("Login", {"Username": "pbxtest", "Secret": "pbxtest-secret", "Events": "on"},
                      action_id="login-1")
    assert codec.send(login) == sent[0]
    originate = AmiAction("Originate", [
        ("Channel", "Local/100@flow-agi"), ("Context", "flow-caller"), ("Exten", "s"), ("Priority", "1"),
        ("CallerID", '"Test Caller" <5551234>'), ("Timeout", "30000"), ("Async", True),
        ("Variable", "DTMF_TO_SEND=1234#")], action_id="orig-1")
    assert codec.send(originate) == sent[1]


def test_AmiCodec_server_answers_round_trip_into_client():
    """The server role writes what the client role reads (the fake switch shares this codec)."""
    server, client = AmiCodec(SERVER), AmiCodec(CLIENT)
    wire = server.send(AmiBanner("11.0.0"))
    wire += server.send(AmiResponse.build("Success", action_id="1", message="Authentication accepted"))
    wire += server.send(AmiEvent([("Event", "FullyBooted"), ("Privilege", "system,all")]))
    assert wire.startswith(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\n")
    events = feed_whole(client, wire)
    assert [type(e) for e in events] == [AmiBanner, AmiResponse, AmiEvent]
    assert events[1].message == "Authentication accepted"


def test_AmiCodec_reads_bare_lf_and_any_header_case():
    codec = AmiCodec(CLIENT)
    events = feed_whole(codec, b"Asterisk Call Manager/13.0.0\nresponse: Success\nactionid: 7\nPing: Pong\n\n")
    response = events[1]
    assert response.action_id == "7" and response["PING"] == "Pong" and response.ok


def test_AmiMessage_missing_headers_are_none_not_empty():
    event = AmiEvent([("Event", "Hangup"), ("Cause", "16")])
    assert event.get("Unknown") is None
    with pytest.raises(KeyError):
        event["Unknown"]
    assert "cause" in event and "nope" not in event


def test_AmiMessage_repeated_headers():
    action = AmiAction("Originate", {"Variable": ["A=1", "B=2"]}, action_id="1")
    assert action.get_all("variable") == ["A=1", "B=2"] and action.get("Variable") == "A=1"


def test_AmiAction_refuses_header_injection():
    with pytest.raises(LocalProtocolError, match="line break"):
        AmiAction("Hangup", {"Channel": "x\r\nAction: Originate"})


def test_AmiCodec_stray_blank_lines_are_skipped():
    codec = AmiCodec(CLIENT)
    events = feed_whole(codec, b"Asterisk Call Manager/11.0.0\r\n\r\n\r\nEvent: X\r\n\r\n")
    assert [type(e) for e in events] == [AmiBanner, AmiEvent]


def test_AmiCodec_bad_banner_is_a_remote_error():
    codec = AmiCodec(CLIENT)
    codec.receive_data(b"HTTP/1.1 400 Bad Request\r\n")
    with pytest.raises(RemoteProtocolError, match="banner"):
        codec.next_event()
    assert codec.state is ERROR


def test_AmiCodec_message_without_response_or_event():
    codec = AmiCodec(CLIENT)
    codec.receive_data(b"Asterisk Call Manager/11.0.0\r\nFoo: bar\r\n\r\n")
    codec.next_event()
    with pytest.raises(RemoteProtocolError, match="without Response or Event"):
        codec.next_event()


def test_AmiCodec_server_too_many_lines():
    codec = AmiCodec(SERVER)
    codec.send(AmiBanner("11.0.0"))
    lines = b"Action: Originate\r\nActionID: 9\r\n" + b"".join(b"Variable: v%d=1\r\n" % i for i in range(200))
    events = feed_whole(codec, lines + b"\r\nAction: Ping\r\n\r\n")
    assert events[0] == AmiActionTooLong("9") and events[1].name == "Ping"
    assert TOO_MANY_LINES.startswith("Too many lines")


def test_AmiCodec_eof_and_closed():
    codec = AmiCodec(CLIENT)
    codec.receive_data(b"Asterisk Call Manager/11.0.0\r\n")
    codec.next_event()
    codec.receive_data(b"")
    assert type(codec.next_event()) is Closed and codec.next_event() is NEED_DATA


def test_AmiCodec_roles_are_enforced():
    with pytest.raises(LocalProtocolError):
        AmiCodec(CLIENT).send(AmiEvent([("Event", "X")]))
    server = AmiCodec(SERVER)
    with pytest.raises(LocalProtocolError, match="BANNER"):
        server.send(AmiEvent([("Event", "X")]))


# -- the ActionTracker ------------------------------------------------------------------------------------


def test_ActionTracker_simple_response():
    tracker = ActionTracker()
    tracker.sent(AmiAction("Ping", action_id="1"))
    done = tracker.received(AmiResponse([("Response", "Success"), ("ActionID", "1"), ("Ping", "Pong")]))
    assert isinstance(done, Completion) and done.ok and len(tracker) == 0


def test_ActionTracker_list_with_interleaved_unsolicited_events():
    tracker = ActionTracker()
    tracker.sent(AmiAction("CoreShowChannels", action_id="3"))
    assert tracker.received(AmiResponse.build("Success", action_id="3", message="Channels will follow",
                                              headers=[("EventList", "start")])) is PENDING
    assert tracker.received(AmiEvent([("Event", "Newchannel")])) is None  # unsolicited: not ours
    assert tracker.received(AmiEvent([("Event", "CoreShowChannel"), ("ActionID", "3")])) is PENDING
    done = tracker.received(AmiEvent([("Event", "CoreShowChannelsComplete"), ("ActionID", "3"),
                                      ("EventList", "Complete"), ("ListItems", "1")]))
    assert isinstance(done, Completion) and [e.name for e in done.events] == ["CoreShowChannel",
                                                                             "CoreShowChannelsComplete"]


def test_ActionTracker_async_originate_waits_for_its_follow_up():
    tracker = ActionTracker()
    tracker.sent(AmiAction("Originate", {"Async": "true"}, action_id="orig-1"))
    assert tracker.received(AmiResponse.build("Success", action_id="orig-1",
                                              message="Originate successfully queued")) is PENDING
    done = tracker.received(AmiEvent([("Event", "OriginateResponse"), ("ActionID", "orig-1"),
                                      ("Response", "Success"), ("Reason", "4")]))
    assert isinstance(done, Completion) and done.follow_up["Reason"] == "4"


def test_ActionTracker_follow_up_before_response():
    tracker = ActionTracker()
    tracker.sent(AmiAction("Originate", {"Async": "true"}, action_id="o"))
    assert tracker.received(AmiEvent([("Event", "OriginateResponse"), ("ActionID", "o")])) is PENDING
    done = tracker.received(AmiResponse.build("Success", action_id="o"))
    assert isinstance(done, Completion) and done.follow_up is not None


def test_ActionTracker_error_completes_at_once():
    tracker = ActionTracker()
    tracker.sent(AmiAction("Originate", {"Async": "true"}, action_id="o"))
    done = tracker.received(AmiResponse.build("Error", action_id="o", message="Permission denied"))
    assert isinstance(done, Completion) and not done.ok and done.follow_up is None


def test_ActionTracker_refuses_duplicate_ids():
    tracker = ActionTracker()
    tracker.sent(AmiAction("Ping", action_id="1"))
    with pytest.raises(LocalProtocolError):
        tracker.sent(AmiAction("Ping", action_id="1"))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=30))
def test_AmiCodec_any_split_gives_the_same_messages(cuts):
    inbound = b"".join(d for direction, d in ami_capture("asterisk-ami-flow-caller-hangup.log") if direction == "<<")
    reference = feed_whole(AmiCodec(CLIENT), inbound)
    codec, events, position = AmiCodec(CLIENT), [], 0
    while position < len(inbound):
        for cut in cuts:
            codec.receive_data(inbound[position:position + cut])
            events += drain(codec)
            position += cut
            if position >= len(inbound):
                break
    assert events == reference


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([CLIENT, SERVER]))
def test_AmiCodec_garbage_never_crashes(data, role):
    codec = AmiCodec(role, max_line=128)
    if role == SERVER:
        codec.send(AmiBanner("11.0.0"))
    else:
        codec.receive_data(b"Asterisk Call Manager/11.0.0\r\n")
    try:
        codec.receive_data(data)
        codec.receive_data(b"")
        for _ in range(1000):
            if codec.next_event() is NEED_DATA:
                break
    except RemoteProtocolError:
        assert codec.state is ERROR
