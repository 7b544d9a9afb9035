"""TTS: the cache, the espeak-ng provider (through a stand-in binary, and the real one when installed),
resampling and the per-voice router."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import wave
from array import array
from pathlib import Path

import pytest

from flowengine.channels.asterisk.tts import EspeakNg, TtsCache, TtsError, TtsRouter, resample

from .support import run

STAND_IN = """#!{python}
import sys, wave, math
args = sys.argv[1:]
out = args[args.index("-w") + 1]
text = sys.stdin.read()
if "fail" in text:
    sys.stderr.write("espeak: bad voice\\n"); sys.exit(3)
with open(out + ".args", "w") as fh:
    fh.write(" ".join(args) + "\\n" + text)
with wave.open(out, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050)
    w.writeframes(b"".join(int(8000 * math.sin(i / 10)).to_bytes(2, "little", signed=True) for i in range(22050)))
"""


@pytest.fixture
def stand_in(tmp_path: Path) -> Path:
    binary = tmp_path / "espeak-ng"
    binary.write_text(STAND_IN.format(python=sys.executable))
    binary.chmod(0o755)
    return binary


@run
async def test_EspeakNg_renders_8kHz_wav_once_per_prompt(tmp_path, stand_in):
    cache = TtsCache(tmp_path / "cache")
    provider = EspeakNg(cache, binary=str(stand_in), voice="en-us", speed=150)
    paths = await asyncio.gather(*(provider.synthesize("Welcome to Acme") for _ in range(5)))
    assert len(set(paths)) == 1
    stem = Path(paths[0])
    with wave.open(str(stem) + ".wav") as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (8000, 1, 2)
        assert abs(reader.getnframes() - 8000) <= 1
    files = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert [f for f in files if f.endswith(".wav")] == [stem.name + ".wav"]  # one render, no temp files
    args = (tmp_path / "cache" / [f for f in files if f.endswith(".args")][0]).read_text()
    assert args.startswith("-v en-us -w ") and "--stdin -s 150" in args and args.endswith("\nWelcome to Acme")
    other = await provider.synthesize("Welcome to Acme", voice="fr", ssml=True)
    assert other != paths[0]


@run
async def test_EspeakNg_failure_is_a_TtsError(tmp_path, stand_in):
    provider = EspeakNg(TtsCache(tmp_path), binary=str(stand_in))
    with pytest.raises(TtsError, match="bad voice"):
        await provider.synthesize("please fail")
    with pytest.raises(TtsError, match="not installed"):
        await EspeakNg(TtsCache(tmp_path), binary=str(tmp_path / "missing")).synthesize("hi")


@run
async def test_TtsRouter_picks_by_engine_prefix_and_voice(tmp_path):
    calls = []

    class Recorder:
        def __init__(self, name):
            self.name = name

        async def synthesize(self, text, *, voice=None, language=None, ssml=False, engine=None):
            calls.append((self.name, voice))
            return self.name

    router = TtsRouter({"a": Recorder("a"), "b": Recorder("b")}, "a", {"en-GB-x": "b"})
    assert await router.synthesize("hi") == "a"
    assert await router.synthesize("hi", voice="b:en-us") == "b"
    assert await router.synthesize("hi", voice="en-GB-x") == "b"
    assert await router.synthesize("hi", engine="b") == "b"
    assert await router.with_default("b").synthesize("hi") == "b"
    assert calls[1] == ("b", "en-us")
    with pytest.raises(ValueError):
        TtsRouter({}, "none")


def test_resample_length_and_range():
    source = array("h", [1000, -1000] * 11025)
    out = resample(source, 22050, 8000)
    assert len(out) == 8000 and max(out) <= 1000 and min(out) >= -1000
    assert list(resample(array("h", [1, 2, 3]), 8000, 8000)) == [1, 2, 3]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
@run
async def test_real_espeak_ng(tmp_path):
    path = await EspeakNg(TtsCache(tmp_path)).synthesize("Hello from flowengine")
    with wave.open(path + ".wav") as reader:
        assert reader.getframerate() == 8000 and reader.getnframes() > 4000


@run
async def test_TtsCache_deletes_least_recently_used_prompts_past_its_cap(tmp_path):
    cache = TtsCache(tmp_path, max_bytes=2500)  # room for two 1,000-byte prompts, not three

    def renderer(size: int):
        async def render(target: Path) -> None:
            target.write_bytes(b"x" * size)
        return render

    first = await cache.get_or_create("first", renderer(1000))
    await cache.get_or_create("second", renderer(1000))
    for index, name in enumerate(("first", "second")):  # distinct mtimes, whatever the filesystem's resolution
        os.utime(cache.path_for(name), ns=(10**18 + index * 10**9,) * 2)
    assert await cache.get_or_create("first", renderer(1)) == first  # a hit: touched, not rendered again
    await cache.get_or_create("third", renderer(1000))
    assert sorted(p.stem for p in tmp_path.iterdir()) == ["first", "third"]  # "second" was the least recent
    await cache.get_or_create("huge", renderer(5000))
    assert sorted(p.stem for p in tmp_path.iterdir()) == ["huge"]  # the new prompt is kept even alone past the cap


@run
async def test_TtsCache_without_a_cap_keeps_everything(tmp_path):
    cache = TtsCache(tmp_path)
    for name in ("a", "b", "c"):
        await cache.get_or_create(name, lambda target: asyncio.to_thread(target.write_bytes, b"x" * 10**6))
    assert len(list(tmp_path.iterdir())) == 3
