"""The FastAGI server adapter: one connection's life, faults included, over real sockets."""

from __future__ import annotations

import asyncio

from flowengine.channels.asterisk.agi import AgiCommand
from flowengine.channels.asterisk.fastagi import AgiConnection, FastAgiServer, Gone

from .support import run

ENV = b"agi_network: yes\nagi_channel: PJSIP/a-1\nagi_uniqueid: 1.1\n\n"


async def server_and_client():
    connections: asyncio.Queue[AgiConnection] = asyncio.Queue()
    server = FastAgiServer(connections.put_nowait, "127.0.0.1", 0)
    await server.start()
    reader, writer = await asyncio.open_connection(*server.address)
    connection = await connections.get()
    return server, connection, reader, writer


@run
async def test_AgiConnection_command_and_reply():
    server, connection, reader, writer = await server_and_client()
    writer.write(ENV)
    env = await connection.environment(1)
    assert env["agi_uniqueid"] == "1.1"
    pending = asyncio.ensure_future(connection.command(AgiCommand("ANSWER")))
    assert await reader.readline() == b"ANSWER\n"
    writer.write(b"200 result=0\n")
    reply = await pending
    assert reply.code == 200 and reply.result == "0"
    writer.close()
    await server.stop()


@run
async def test_AgiConnection_closes_the_socket_after_HANGUP():
    """Asterisk does not close after HANGUP: the server must, or the channel is held."""
    server, connection, reader, writer = await server_and_client()
    writer.write(ENV + b"HANGUP\n")
    await connection.environment(1)
    assert await asyncio.wait_for(reader.read(), 1) == b""  # EOF from our side
    assert connection.hung_up
    assert await connection.command(AgiCommand("ANSWER")) == Gone("hangup", "the channel hung up")
    writer.close()
    await server.stop()


@run
async def test_AgiConnection_HANGUP_before_the_reply_closes_after_it():
    server, connection, reader, writer = await server_and_client()
    writer.write(ENV)
    await connection.environment(1)
    pending = asyncio.ensure_future(connection.command(AgiCommand("SET VARIABLE", "X", "1")))
    await reader.readline()
    writer.write(b"HANGUP\n")
    await asyncio.sleep(0.01)
    assert not pending.done()  # still waiting for its reply
    writer.write(b"200 result=1\n")
    assert (await pending).result == "1"
    assert await asyncio.wait_for(reader.read(), 1) == b""
    writer.close()
    await server.stop()


@run
async def test_AgiConnection_garbage_ends_only_this_connection(caplog):
    server, connection, reader, writer = await server_and_client()
    writer.write(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
    assert await connection.environment(1) is None
    assert connection.gone.reason == "protocol"
    assert await asyncio.wait_for(reader.read(), 1) == b""
    assert any("protocol error" in r.getMessage() for r in caplog.records)
    other_reader, other_writer = await asyncio.open_connection(*server.address)  # the server still serves
    other_writer.close()
    writer.close()
    await server.stop()


@run
async def test_AgiConnection_environment_timeout():
    server, connection, reader, writer = await server_and_client()
    assert await connection.environment(0.02) is None
    assert await asyncio.wait_for(reader.read(), 1) == b""
    writer.close()
    await server.stop()


@run
async def test_AgiConnection_switch_drops_mid_command():
    server, connection, reader, writer = await server_and_client()
    writer.write(ENV)
    await connection.environment(1)
    pending = asyncio.ensure_future(connection.command(AgiCommand("STREAM FILE", "x", "")))
    await reader.readline()
    writer.close()
    assert (await pending).reason == "closed"
    await server.stop()


@run
async def test_AgiConnection_send_and_close_refuses_at_once():
    server, connection, reader, writer = await server_and_client()
    writer.write(ENV)
    await connection.environment(1)
    connection.send_and_close(AgiCommand("EXEC", "Hangup", "34"))
    assert await asyncio.wait_for(reader.read(), 1) == b"EXEC Hangup 34\n"
    writer.close()
    await server.stop()
