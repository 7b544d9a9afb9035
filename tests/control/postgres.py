"""A PostgreSQL server for the store tests: FLOWENGINE_TEST_PG (a DSN), or a throwaway cluster (initdb, then
`postgres` in the foreground as a child of the test process) when the binaries are on PATH. As root the
server runs as the `postgres` user. The child gets SIGQUIT if the test process dies, so a killed run
leaves no server behind; otherwise it is stopped by its pid at the end."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Callable, Iterator

PR_SET_PDEATHSIG = 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _child_setup(user: pwd.struct_passwd | None) -> Callable[[], None]:
    def setup() -> None:
        if user is not None:
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGQUIT)
    return setup


@contextlib.contextmanager
def postgres_dsn() -> Iterator[str | None]:
    """A DSN, or None when no PostgreSQL can be had here."""
    if os.environ.get("FLOWENGINE_TEST_PG"):
        yield os.environ["FLOWENGINE_TEST_PG"]
        return
    initdb, postgres = shutil.which("initdb"), shutil.which("postgres")
    if not (initdb and postgres):
        yield None
        return
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            yield None
            return
    directory = tempfile.mkdtemp(prefix="fe-pg-")
    if user is not None:
        os.chown(directory, user.pw_uid, user.pw_gid)
    data, port = f"{directory}/data", _free_port()
    setup = _child_setup(user)
    server = None
    try:
        subprocess.run([initdb, "-D", data, "-A", "trust", "-U", "postgres"], preexec_fn=setup, check=True,
                       capture_output=True, timeout=60)
        with open(f"{directory}/log", "wb") as log:
            server = subprocess.Popen([postgres, "-D", data, "-p", str(port), "-k", directory, "-c",
                                       "listen_addresses=", "-c", "fsync=off"], preexec_fn=setup, stdout=log,
                                      stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(f"{directory}/.s.PGSQL.{port}") and server.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError("postgres did not start")
            time.sleep(0.05)
        if server.poll() is not None:
            raise RuntimeError("postgres exited at start")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, TimeoutError, RuntimeError, OSError):
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGQUIT)
            server.wait(10)
        shutil.rmtree(directory, ignore_errors=True)
        yield None
        return
    try:
        time.sleep(0.2)  # the socket file appears just before the server accepts connections
        yield f"host={directory} port={port} user=postgres dbname=postgres"
    finally:
        server.send_signal(signal.SIGQUIT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(10)
        shutil.rmtree(directory, ignore_errors=True)
