"""`flowengine serve`: --check, exit codes, and a real process drained by SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from flowengine.cli import main
from flowengine.testing.fake_asterisk import FakeAsterisk

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "flows" / "demo-menu.flow.json"


def config(tmp_path: Path, routes: str, extra: str = "") -> Path:
    path = tmp_path / "flowengine.toml"
    path.write_text(f'[listeners.fastagi]\nport = 0\n[http]\nport = 0\n[records]\nsqlite = "calls.sqlite"\n'
                    f'[daemon]\nlog_format = "json"\n{extra}\n{routes}')
    return path


def test_serve_check_ok_and_invalid(tmp_path, capsys):
    good = config(tmp_path, f'[[routes]]\ndefault = true\nflow = "{DEMO}"\n')
    assert main(["serve", "-c", str(good), "--check"]) == 0
    assert "ok (1 route(s), 1 flow(s))" in capsys.readouterr().out
    (tmp_path / "broken.flow.json").write_text('{"flowengine": "ir/1", "entry": "x", "states": {}}')
    broken = config(tmp_path, '[[routes]]\ndefault = true\nflow = "broken.flow.json"\n')
    assert main(["serve", "-c", str(broken), "--check"]) == 1
    assert "broken.flow.json" in capsys.readouterr().err
    bad = config(tmp_path, '[[routes]]\ndefault = true\nflow = "x"\nflw = 2\n')
    assert main(["serve", "-c", str(bad)]) == 2
    assert "did you mean 'flow'?" in capsys.readouterr().err
    assert main(["serve", "-c", str(tmp_path / "nope.toml")]) == 2


def test_serve_process_drains_on_SIGTERM(tmp_path):
    path = config(tmp_path, f'[[routes]]\ndefault = true\nflow = "{DEMO}"\n', extra="drain_timeout = 10\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "flowengine", "serve", "-c", str(path)], cwd=tmp_path,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        port = None
        lines = []
        for line in process.stderr:
            lines.append(line)
            match = re.search(r"FastAGI listening on [\d.]+:(\d+)", line)
            if match:
                port = int(match.group(1))
                break
        assert port, "".join(lines)

        async def call_then_terminate():
            fake = FakeAsterisk(time_scale=0.01)
            call = fake.call(("127.0.0.1", port), caller=["timeout", "timeout"])
            await asyncio.sleep(0.3)  # the call is in its menu
            process.send_signal(signal.SIGTERM)
            return await asyncio.wait_for(call.finished, 20)

        record = asyncio.run(call_then_terminate())
        assert record.closed_by_server and record.commands[-1] == "EXEC Hangup 16"  # finished, not cut
        assert process.wait(20) == 0
        logs = [json.loads(line) for line in lines + process.stderr.read().splitlines() if line.startswith("{")]
        messages = [entry["msg"] for entry in logs]
        assert any(m.startswith("SIGTERM received: draining") for m in messages)
        assert messages[-1] == "stopped"
        assert any(m.startswith("call ended: hangup") and "call_id" in entry for m, entry in zip(messages, logs))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
