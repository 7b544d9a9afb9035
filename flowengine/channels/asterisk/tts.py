"""Text to speech for switches that play files: a small provider interface, espeak-ng, and a file cache.

A provider turns (text, voice, language, ssml) into a file the switch can play and returns its path
*without* extension (Asterisk's STREAM FILE adds it). Rules kept here:
  * Audio is cached by a hash of provider, voice, language, the SSML flag and the text: the same prompt is
    synthesised once, even when many calls ask for it at the same moment (one in-flight job per key).
  * Files are written to a temporary name and renamed into place, so a player never sees half a file.
  * The cache has a size cap: after each new render, the least recently used prompts are deleted until
    the directory fits. A hit touches its file's mtime, so prompts in use are the last to go, and a
    deleted file stays readable to a player that already opened it (POSIX unlink).
  * Cache files are 8 kHz 16-bit mono WAV, the format Asterisk's `wav` reader plays without transcoding
    surprises. espeak-ng writes 22.05 kHz, so the audio is resampled here (a short low-pass, then linear
    interpolation; done in a worker thread so the event loop never waits on it).
  * Nothing blocks the event loop: the synthesiser runs as a subprocess with a timeout.
  * Failures raise TtsError (a ChannelError): the call gets an `error` event, never silence.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import shutil
import wave
from array import array
from pathlib import Path
from typing import Awaitable, Callable, Protocol

from ...errors import ChannelError

__all__ = ["TtsProvider", "TtsError", "TtsCache", "EspeakNg", "TtsRouter", "resample"]

OUTPUT_RATE = 8000


class TtsError(ChannelError):
    """Speech could not be synthesised."""


class TtsProvider(Protocol):
    name: str

    async def synthesize(self, text: str, *, voice: str | None = None, language: str | None = None,
                         ssml: bool = False, engine: str | None = None) -> str:
        """The path (without extension) of a playable file speaking `text`. `engine` is the flow's hint
        (a provider name); single providers ignore it, TtsRouter picks by it."""
        ...


class TtsCache:
    """A directory of synthesised prompts, keyed by what was said and how."""

    def __init__(self, directory: str | Path, suffix: str = ".wav", max_bytes: int = 0):
        """`max_bytes`: the size cap of the cached prompts (0: no cap)."""
        self.directory = Path(directory)
        self.suffix = suffix
        self.max_bytes = max_bytes
        self._inflight: dict[str, asyncio.Future[str]] = {}

    @staticmethod
    def key(*parts: object) -> str:
        digest = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode("utf-8"))
        return digest.hexdigest()[:40]

    def path_for(self, key: str) -> Path:
        return self.directory / (key + self.suffix)

    async def get_or_create(self, key: str, render: Callable[[Path], Awaitable[None]]) -> str:
        """The cached file's path without suffix, rendering it with `render(target)` when missing."""
        target = self.path_for(key)
        stem = str(target)[: -len(self.suffix)]
        if _touch(target):
            return stem
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            await render(target)
            if self.max_bytes:
                await asyncio.to_thread(self.prune, keep=target)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: only concurrent waiters care
            raise
        else:
            future.set_result(stem)
            return stem
        finally:
            self._inflight.pop(key, None)
            if not future.done():  # the render was cancelled: concurrent waiters must not hang
                future.set_exception(TtsError("speech synthesis was cancelled"))
                future.exception()


    def prune(self, keep: Path | None = None) -> list[Path]:
        """Delete the least recently used prompts until the cache fits `max_bytes`; never `keep`.
        Returns what was deleted."""
        entries = []
        for path in self.directory.glob("*" + self.suffix):
            try:
                info = path.stat()
            except OSError:  # deleted meanwhile (another daemon sharing the directory)
                continue
            entries.append((info.st_mtime_ns, info.st_size, path))
        total = sum(size for _, size, _ in entries)
        deleted = []
        for _, size, path in sorted(entries, key=lambda entry: entry[0]):
            if total <= self.max_bytes:
                break
            if path == keep:
                continue
            path.unlink(missing_ok=True)
            total -= size
            deleted.append(path)
        return deleted


def _touch(path: Path) -> bool:
    """Mark a cached file as just used; False when it is not there."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


class EspeakNg:
    """espeak-ng (the Debian package `espeak-ng`) rendering into a TtsCache."""

    name = "espeak-ng"

    def __init__(self, cache: TtsCache, *, binary: str = "espeak-ng", voice: str = "en", speed: int | None = None,
                 timeout: float = 20.0):
        self.cache = cache
        self.binary = binary
        self.voice = voice
        self.speed = speed
        self.timeout = timeout

    def available(self) -> bool:
        return shutil.which(self.binary) is not None

    async def synthesize(self, text: str, *, voice: str | None = None, language: str | None = None,
                         ssml: bool = False, engine: str | None = None) -> str:
        chosen = voice or language or self.voice
        key = self.cache.key(self.name, chosen, self.speed, ssml, text)
        return await self.cache.get_or_create(key, lambda target: self._render(target, text, chosen, ssml))

    async def _render(self, target: Path, text: str, voice: str, ssml: bool) -> None:
        raw = target.with_name(target.name + f".{os.getpid()}.raw.wav")
        args = [self.binary, "-v", voice, "-w", str(raw), "--stdin"]
        if ssml:
            args.append("-m")
        if self.speed:
            args += ["-s", str(self.speed)]
        try:
            proc = await asyncio.create_subprocess_exec(
                *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE)
        except FileNotFoundError:
            raise TtsError(f"{self.binary} is not installed (apt install espeak-ng)") from None
        try:
            _, err = await asyncio.wait_for(proc.communicate(text.encode("utf-8")), self.timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise TtsError(f"{self.binary} took longer than {self.timeout:g} s") from None
        try:
            if proc.returncode != 0:
                detail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
                raise TtsError(f"{self.binary} failed ({proc.returncode}): {detail[0]}")
            await asyncio.to_thread(_convert_file, raw, target)
        finally:
            raw.unlink(missing_ok=True)


def _convert_file(source: Path, target: Path) -> None:
    with wave.open(str(source), "rb") as reader:
        if reader.getsampwidth() != 2:
            raise TtsError(f"unexpected sample width {reader.getsampwidth()} from the synthesiser")
        channels, rate = reader.getnchannels(), reader.getframerate()
        frames = reader.readframes(reader.getnframes())
    samples = array("h")
    samples.frombytes(frames)
    if channels > 1:
        samples = array("h", samples[::channels])
    out = resample(samples, rate, OUTPUT_RATE)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(OUTPUT_RATE)
        writer.writeframes(out.tobytes())
    temp = target.with_name(target.name + f".{os.getpid()}.tmp")
    temp.write_bytes(buffer.getvalue())
    os.replace(temp, target)


def resample(samples: array, rate: int, to_rate: int) -> array:
    """16-bit samples from `rate` to `to_rate`: a moving-average low-pass when shrinking, then linear
    interpolation. Good enough for speech prompts; not a studio resampler."""
    if rate == to_rate or not samples:
        return array("h", samples)
    source = samples
    if to_rate < rate:
        width = max(1, round(rate / to_rate))
        if width > 1:
            acc = 0
            smoothed = array("h", bytes(2 * len(samples)))
            for index, value in enumerate(samples):
                acc += value
                if index >= width:
                    acc -= samples[index - width]
                smoothed[index] = int(acc / min(index + 1, width))
            source = smoothed
    count = max(1, int(len(source) * to_rate / rate))
    step = rate / to_rate
    last = len(source) - 1
    out = array("h", bytes(2 * count))
    for index in range(count):
        position = index * step
        base = int(position)
        if base >= last:
            out[index] = source[last]
            continue
        frac = position - base
        out[index] = int(source[base] + (source[base + 1] - source[base]) * frac)
    return out


class TtsRouter:
    """Picks a provider per prompt: the prompt's `engine` when it names a provider, a voice written
    `provider:voice`, a voice named in `voices`, else the default. Itself a TtsProvider."""

    name = "router"

    def __init__(self, providers: dict[str, TtsProvider], default: str, voices: dict[str, str] | None = None):
        if default not in providers:
            raise ValueError(f"default TTS provider {default!r} is not configured")
        self.providers = providers
        self.default = default
        self.voices = voices or {}

    def with_default(self, default: str | None) -> "TtsRouter":
        """The same providers with another default (a route's `tts`)."""
        if not default or default == self.default:
            return self
        return TtsRouter(self.providers, default, self.voices)

    def pick(self, voice: str | None, engine: str | None = None) -> tuple[TtsProvider, str | None]:
        if engine and engine in self.providers:
            return self.providers[engine], voice
        if voice:
            prefix, sep, rest = voice.partition(":")
            if sep and prefix in self.providers:
                return self.providers[prefix], rest or None
            if voice in self.voices:
                return self.providers[self.voices[voice]], voice
        return self.providers[self.default], voice

    async def synthesize(self, text: str, *, voice: str | None = None, language: str | None = None,
                         ssml: bool = False, engine: str | None = None) -> str:
        provider, voice = self.pick(voice, engine)
        return await provider.synthesize(text, voice=voice, language=language, ssml=ssml)
