"""A daemon wired to the fake Asterisk (FastAGI on port 0, AMI on port 0, fake TTS), for tests."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import AsyncIterator

from flowengine.daemon.asterisk import AsteriskListener
from flowengine.daemon.config import parse_config
from flowengine.daemon.server import Daemon
from flowengine.testing.fake_asterisk import FakeAsterisk, FakeTts

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "flows" / "demo-menu.flow.json"


def ir_flow(path: Path, states: dict, **top) -> Path:
    path.write_text(json.dumps({"flowengine": "ir/1", "name": path.stem, "entry": next(iter(states)),
                                "states": states, **top}))
    return path


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, routes: str, *, extra: str = "", ami: bool = True,
                  time_scale: float = 0.001) -> AsyncIterator[tuple[Daemon, AsteriskListener, FakeAsterisk]]:
    tts = FakeTts()
    fake = FakeAsterisk(time_scale=time_scale, media_duration=tts.duration)
    ami_section = ""
    if ami:
        host, port = await fake.start_ami()
        ami_section = f'[asterisk.ami]\nhost = "{host}"\nport = {port}\nusername = "flowengine"\nsecret = "secret"\n'
    text = (f'[listeners.fastagi]\nport = 0\n[http]\nport = 0\n[records]\nsqlite = "calls.sqlite"\n'
            f'[flows]\nreload_interval = 0.05\n{extra}\n{ami_section}\n{routes}')
    config = parse_config(text, str(tmp_path / "flowengine.toml"), base_dir=str(tmp_path))
    listener = AsteriskListener(config, tts=tts)
    daemon = Daemon(config, listeners=[listener])
    await daemon.start()
    if ami:
        assert await listener.ami.wait_ready(2)
    try:
        yield daemon, listener, fake
    finally:
        await daemon.stop(drain_timeout=2)
        await fake.close()
