"""`flowengine serve` configuration: TOML into frozen, typed dataclasses, checked before anything starts.

    config = load_config("flowengine.toml")       # ConfigError (a FlowError) with diagnostics on problems

Rules kept here:
  * Every section is a frozen dataclass; its fields (names, types, defaults) are the only keys allowed.
    An unknown key is an error with a suggestion (`listeners.fastagi.prot` → "did you mean 'port'?"),
    never ignored (panoramisk's `**config` smell).
  * Errors are diagnostics at the key's line and column: `flowengine.toml:12:1: error[E_CONFIG]: …`.
    Python's tomllib keeps no positions, so a small scanner of the TOML text finds them (tables, array
    tables, dotted and quoted keys, inline tables on one line).
  * Relative paths (flows, the records database, the TTS cache) are relative to the config file.
  * Secrets may come from the environment (`secret_env`) so the file can be shared.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import formats
from ..control.config import ControlConfig, StoreConfig
from ..control.config import check as check_control
from ..diagnostics import Diagnostic, Span, did_you_mean
from ..errors import FlowError

__all__ = [
    "ConfigError", "ServeConfig", "DaemonConfig", "FastAgiConfig", "ListenersConfig", "AmiConfig",
    "AsteriskConfig", "HttpConfig", "RecordsConfig", "TtsConfig", "TtsProviderConfig", "FlowsConfig",
    "LimitsConfig", "FetchConfig", "RouteConfig", "load_config", "parse_config", "EslListenerConfig",
    "FreeSwitchConfig", "FreeSwitchInboundConfig",
]


class ConfigError(FlowError):
    """The serve configuration is invalid (diagnostics say where)."""


@dataclass(frozen=True)
class DaemonConfig:
    drain_timeout: float = 30.0
    """Seconds live calls get to finish after SIGTERM before they are cancelled."""
    max_calls: int = 500
    """Concurrent calls; a call over the limit is refused at once (hang-up cause 34)."""
    max_calls_per_second: float = 50.0
    """New calls per second (a token bucket with a burst of the same size)."""
    log_level: str = "info"
    log_format: str = "json"
    """json (one object per line, with the call id) or text."""


@dataclass(frozen=True)
class FastAgiConfig:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 4573
    env_timeout: float = 5.0
    """Seconds to wait for the AGI environment after a connection opens."""


@dataclass(frozen=True)
class EslListenerConfig:
    enabled: bool = False
    """The outbound Event Socket server FreeSWITCH's `socket <host>:<port> async full` connects to."""
    host: str = "127.0.0.1"
    port: int = 8084
    connect_timeout: float = 5.0
    """Seconds to wait for the reply to `connect` (the call's CHANNEL_DATA)."""
    linger_timeout: float = 5.0
    """Seconds to wait, after a call hung up, for the switch's last events before closing the socket."""


@dataclass(frozen=True)
class ListenersConfig:
    fastagi: FastAgiConfig = field(default_factory=FastAgiConfig)
    esl: EslListenerConfig = field(default_factory=EslListenerConfig)


@dataclass(frozen=True)
class AmiConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = ""
    secret: str = ""
    secret_env: str = ""
    """Name of an environment variable holding the secret (used when `secret` is empty)."""
    ping_interval: float = 20.0
    action_timeout: float = 10.0
    backoff_max: float = 30.0

    def resolved_secret(self) -> str:
        return self.secret or (os.environ.get(self.secret_env, "") if self.secret_env else "")


@dataclass(frozen=True)
class AsteriskConfig:
    ami: AmiConfig | None = None
    dial_template: str = "PJSIP/{target}"
    recordings_dir: str = "/var/spool/asterisk/flowengine"
    recording_format: str = "wav"
    recording_url: str = "file://{path}"
    type_ahead: bool = True
    originate_channel: str = "Local/{target}@flowengine-outbound"
    """The Originate Channel for an API-started flow's first call; `{target}` is the dial target."""
    agi_url: str = ""
    """The agi:// URL originated calls run (default: the FastAGI listener's address)."""
    originate_answer_timeout: float = 10.0
    leg_context: str = "flowengine-leg"
    """The dialplan context Dial()'s U() option runs on an answered leg with states of its own (a dial's
    on_answer): it runs AGI on this daemon with ${ARG1} (docs/asterisk.md)."""


@dataclass(frozen=True)
class FreeSwitchInboundConfig:
    host: str = "127.0.0.1"
    port: int = 8021
    password: str = ""
    password_env: str = ""
    """Name of an environment variable holding the password (used when `password` is empty)."""
    connect_timeout: float = 5.0
    backoff_max: float = 30.0

    def resolved_password(self) -> str:
        return self.password or (os.environ.get(self.password_env, "") if self.password_env else "")


@dataclass(frozen=True)
class FreeSwitchConfig:
    inbound: FreeSwitchInboundConfig | None = None
    """Optional: the inbound Event Socket used to originate API-started flows' calls."""
    dial_template: str = "sofia/gateway/default/{target}"
    tts: str = "speak"
    """speak: FreeSWITCH's `speak` app (mod_flite or another engine); provider: the daemon's [tts]."""
    speak_engine: str = "flite"
    speak_voice: str = "kal"
    say_language: str = "en"
    http_prefix: str = "http_cache://"
    recordings_dir: str = "/var/lib/freeswitch/recordings/flowengine"
    recording_format: str = "wav"
    recording_url: str = "file://{path}"
    conference_profile: str = "default"
    socket_address: str = ""
    """host:port originated calls' `socket` app connects to (default: the ESL listener's address)."""
    originate_answer_timeout: float = 10.0


@dataclass(frozen=True)
class HttpConfig:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8088


@dataclass(frozen=True)
class RecordsConfig:
    sqlite: str = "flowengine-calls.sqlite"
    """Path of the SQLite call-records database; "" turns records off."""


@dataclass(frozen=True)
class TtsProviderConfig:
    kind: str = "espeak-ng"
    voice: str = "en"
    binary: str = "espeak-ng"
    speed: int = 0
    timeout: float = 20.0


@dataclass(frozen=True)
class TtsConfig:
    default: str = "espeak"
    cache_dir: str = "tts-cache"
    cache_max_mb: int = 512
    """Size cap of the TTS cache in MiB; the least recently used prompts go first (0: no cap)."""
    providers: dict[str, TtsProviderConfig] = field(default_factory=lambda: {"espeak": TtsProviderConfig()})
    voices: dict[str, str] = field(default_factory=dict)
    """Voice name → provider name, for voices that do not say `provider:voice` themselves."""


@dataclass(frozen=True)
class FlowsConfig:
    reload: bool = True
    reload_interval: float = 2.0


@dataclass(frozen=True)
class LimitsConfig:
    max_steps: int = 10_000
    max_time: float = 3600.0
    max_fetches: int = 50


@dataclass(frozen=True)
class FetchConfig:
    allow_private: bool = False
    user_agent: str = "flowengine/0.1"
    max_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class RouteConfig:
    flow: str = ""
    path: str | None = None
    """Matches the agi:// path (agi_network_script without its query string)."""
    number: str | None = None
    """Matches the called number (agi_dnid); `_` starts an Asterisk pattern (_X. _NXXNXXXXXX …)."""
    extension: str | None = None
    """Matches the dialplan extension (agi_extension); patterns as for `number`."""
    default: bool = False
    format: str | None = None
    tts: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    """Label for logs and metrics (default: the flow file's name)."""

    @property
    def label(self) -> str:
        return self.name or Path(self.flow).name


@dataclass(frozen=True)
class ServeConfig:
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    listeners: ListenersConfig = field(default_factory=ListenersConfig)
    asterisk: AsteriskConfig = field(default_factory=AsteriskConfig)
    freeswitch: FreeSwitchConfig = field(default_factory=FreeSwitchConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    records: RecordsConfig = field(default_factory=RecordsConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    flows: FlowsConfig = field(default_factory=FlowsConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    routes: list[RouteConfig] = field(default_factory=list)
    control: ControlConfig = field(default_factory=ControlConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    source: str = "<config>"
    base_dir: str = "."

    def path(self, relative: str) -> str:
        """A path from the config, made absolute against the config file's directory."""
        return relative if not relative or os.path.isabs(relative) else os.path.join(self.base_dir, relative)


CHOICES = {
    ("daemon", "log_level"): ("debug", "info", "warning", "error"),
    ("daemon", "log_format"): ("json", "text"),
    ("tts", "providers", "*", "kind"): ("espeak-ng",),
    ("asterisk", "recording_format"): ("wav", "wav16", "gsm", "ulaw", "alaw", "sln"),
    ("freeswitch", "tts"): ("speak", "provider"),
    ("freeswitch", "recording_format"): ("wav", "mp3", "ogg"),
}
"""Closed vocabularies, by key path ("*" = any name)."""


# -- loading ---------------------------------------------------------------------------------------------


def load_config(path: str | Path) -> ServeConfig:
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Diagnostic("E_CONFIG", f"cannot read the config: {exc.strerror}", file=name)]) from None
    return parse_config(text, name, base_dir=str(Path(path).resolve().parent))


def parse_config(text: str, filename: str = "<config>", base_dir: str = ".") -> ServeConfig:
    """A ServeConfig from TOML text; ConfigError with every problem found."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, col = _toml_error_position(str(exc))
        raise ConfigError([Diagnostic("E_CONFIG_SYNTAX", f"invalid TOML: {exc}", Span(filename, line, col))]) from None
    builder = _Builder(filename, _positions(text))
    config = builder.build(ServeConfig, data, ())
    problems = builder.problems
    if not problems:
        problems += _check(config, builder)
    if problems:
        raise ConfigError(problems)
    return dataclasses.replace(config, source=filename, base_dir=base_dir)


class _Builder:
    def __init__(self, filename: str, positions: dict[tuple, tuple[int, int]]):
        self.filename = filename
        self.positions = positions
        self.problems: list[Diagnostic] = []

    def span(self, path: tuple) -> Span:
        probe = tuple(path)
        while probe:
            if probe in self.positions:
                line, col = self.positions[probe]
                return Span(self.filename, line, col)
            probe = probe[:-1]
        return Span(self.filename, 1, 1)

    def error(self, path: tuple, message: str) -> None:
        self.problems.append(Diagnostic("E_CONFIG", message, self.span(path)))

    def build(self, cls: type, data: Any, path: tuple) -> Any:
        where = _where(path)
        if not isinstance(data, dict):
            self.error(path, f"{where} must be a table")
            return cls()
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls) if f.name not in ("source", "base_dir")]
        values = {}
        for key, value in data.items():
            if key not in names:
                self.error(path + (key,), f"unknown key {key!r} in {where}{did_you_mean(key, names)}")
                continue
            values[key] = self.value(hints[key], value, path + (key,))
        try:
            return cls(**values)
        except TypeError as exc:  # a dataclass without defaults for something missing
            self.error(path, f"{where}: {exc}")
            return cls()

    def value(self, hint: Any, value: Any, path: tuple) -> Any:
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and type(None) in args:
            if value is None:
                return None
            hint = next(a for a in args if a is not type(None))
            origin, args = typing.get_origin(hint), typing.get_args(hint)
        key = path[-1] if path else ""
        if dataclasses.is_dataclass(hint):
            return self.build(hint, value, path)
        if origin is list:
            if not isinstance(value, list):
                self.error(path, f"{key!r} must be a list (an array of tables: [[{key}]])")
                return []
            return [self.value(args[0], item, path + (index,)) for index, item in enumerate(value)]
        if origin is dict:
            if not isinstance(value, dict):
                self.error(path, f"{key!r} must be a table")
                return {}
            return {k: self.value(args[1], v, path + (k,)) for k, v in value.items()}
        if hint is Any:
            return value
        if hint is bool:
            if not isinstance(value, bool):
                self.error(path, f"{key!r} must be true or false, not {value!r}")
            return bool(value)
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                self.error(path, f"{key!r} must be an integer, not {value!r}")
                return 0
            return value
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.error(path, f"{key!r} must be a number, not {value!r}")
                return 0.0
            return float(value)
        if hint is str:
            if not isinstance(value, str):
                self.error(path, f"{key!r} must be a string, not {value!r}")
                return ""
            choices = _choices(path)
            if choices and value not in choices:
                self.error(path, f"{key!r} must be one of {', '.join(choices)}, not {value!r}"
                                 f"{did_you_mean(value, choices)}")
            return value
        return value


def _choices(path: tuple) -> tuple[str, ...] | None:
    for pattern, choices in CHOICES.items():
        if len(pattern) == len(path) and all(p == "*" or p == q for p, q in zip(pattern, path)):
            return choices
    return None


def _check(config: ServeConfig, builder: _Builder) -> list[Diagnostic]:
    """Rules across keys (run once every key is known to be well typed)."""
    problems: list[Diagnostic] = []

    def error(path: tuple, message: str) -> None:
        problems.append(Diagnostic("E_CONFIG", message, builder.span(path)))

    if not config.routes:
        error((), "no [[routes]]: add at least one route (path, number, extension or default = true) to a flow")
    defaults = 0
    for index, route in enumerate(config.routes):
        path = ("routes", index)
        matchers = [k for k in ("path", "number", "extension") if getattr(route, k) is not None]
        if route.default:
            defaults += 1
            if matchers:
                error(path, f"route {index + 1}: a default route matches every call; drop {matchers[0]!r}")
        elif len(matchers) != 1:
            error(path, f"route {index + 1}: give exactly one of path, number, extension (or default = true)")
        if not route.flow:
            error(path, f"route {index + 1}: 'flow' (the flow file) is required")
        if route.format:
            try:
                formats.get(route.format)
            except FlowError as exc:
                error(path + ("format",), f"route {index + 1}: {exc.diagnostics[0].message}")
        if route.tts is not None and route.tts not in config.tts.providers:
            error(path + ("tts",), f"route {index + 1}: unknown TTS provider {route.tts!r}"
                                   f"{did_you_mean(route.tts, config.tts.providers)}")
    if defaults > 1:
        error(("routes",), "more than one default route")
    if config.tts.default not in config.tts.providers:
        error(("tts", "default"), f"the default TTS provider {config.tts.default!r} is not in [tts.providers]"
                                  f"{did_you_mean(config.tts.default, config.tts.providers)}")
    if config.tts.cache_max_mb < 0:
        error(("tts", "cache_max_mb"), "cache_max_mb must be 0 (no cap) or more")
    for voice, provider in config.tts.voices.items():
        if provider not in config.tts.providers:
            error(("tts", "voices", voice), f"voice {voice!r} names unknown provider {provider!r}")
    for name, port in (("listeners.fastagi.port", config.listeners.fastagi.port), ("http.port", config.http.port),
                       ("listeners.esl.port", config.listeners.esl.port)):
        if not 0 <= port <= 65535:
            error(tuple(name.split(".")), f"{name} must be 0..65535")
    if config.daemon.max_calls < 1:
        error(("daemon", "max_calls"), "max_calls must be at least 1")
    if config.daemon.max_calls_per_second <= 0:
        error(("daemon", "max_calls_per_second"), "max_calls_per_second must be more than 0")
    ami = config.asterisk.ami
    if ami is not None and not ami.username:
        error(("asterisk", "ami"), "[asterisk.ami] needs a username")
    if ami is not None and ami.secret_env and not ami.secret and ami.secret_env not in os.environ:
        error(("asterisk", "ami", "secret_env"), f"the environment variable {ami.secret_env} is not set")
    if "{target}" not in config.asterisk.dial_template:
        error(("asterisk", "dial_template"), "dial_template must contain {target}")
    if "{target}" not in config.freeswitch.dial_template:
        error(("freeswitch", "dial_template"), "dial_template must contain {target}")
    inbound = config.freeswitch.inbound
    if inbound is not None and inbound.password_env and not inbound.password and inbound.password_env not in os.environ:
        error(("freeswitch", "inbound", "password_env"), f"the environment variable {inbound.password_env} is not set")
    if inbound is not None and not inbound.resolved_password():
        error(("freeswitch", "inbound"), "[freeswitch.inbound] needs a password (or password_env)")
    for path, message in check_control(config.control, config.store):
        error(path, message)
    return problems


def _where(path: tuple) -> str:
    if not path:
        return "the config"
    parts = [str(p) if isinstance(p, str) else f"[{p + 1}]" for p in path]
    return "[" + ".".join(parts).replace(".[", "[") + "]"


# -- positions -------------------------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r'^\s*((?:"[^"]*"|\'[^\']*\'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|\'[^\']*\'|[A-Za-z0-9_-]+))*)\s*=')
_INLINE_KEY = re.compile(r'[{,]\s*("[^"]*"|[A-Za-z0-9_-]+)\s*=')


def _split_key(key: str) -> list[str]:
    parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([A-Za-z0-9_-]+)', key)
    return [a or b or c for a, b, c in parts]


def _positions(text: str) -> dict[tuple, tuple[int, int]]:
    """Where each key path is written: (line, column), 1-based. Array tables count from 0."""
    positions: dict[tuple, tuple[int, int]] = {}
    table: tuple = ()
    counters: dict[tuple, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header and not _KEY.match(line):
            names = tuple(_split_key(header.group(2)))
            if header.group(1) == "[[":
                index = counters.get(names, -1) + 1
                counters[names] = index
                table = names + (index,)
            else:
                table = _resolve_arrays(names, counters)
            positions.setdefault(table, (number, line.index("[") + 1))
            continue
        key = _KEY.match(line)
        if key:
            path = table + tuple(_split_key(key.group(1)))
            positions.setdefault(path, (number, len(line) - len(line.lstrip()) + 1))
            rest = line[key.end():]
            if "{" in rest:
                offset = key.end()
                for inline in _INLINE_KEY.finditer(rest):
                    inner = _split_key(inline.group(1))
                    positions.setdefault(path + tuple(inner), (number, offset + inline.start(1) + 1))
    return positions


def _resolve_arrays(names: tuple, counters: dict[tuple, int]) -> tuple:
    """`[routes.variables]` after `[[routes]]` belongs to the latest route."""
    out: tuple = ()
    for name in names:
        out += (name,)
        if out in counters:
            out += (counters[out],)
    return out


def _toml_error_position(message: str) -> tuple[int, int]:
    match = re.search(r"line (\d+), column (\d+)", message)
    return (int(match.group(1)), int(match.group(2))) if match else (1, 1)
