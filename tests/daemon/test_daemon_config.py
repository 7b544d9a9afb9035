"""`flowengine serve` config: typed, frozen, unknown keys refused with positions and suggestions."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from flowengine.daemon.config import ConfigError, ServeConfig, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = '[[routes]]\ndefault = true\nflow = "menu.flow.json"\n'


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "serve.toml")
    return [d.render() for d in info.value.diagnostics]


def test_config_defaults():
    config = parse_config(MINIMAL, "serve.toml", base_dir="/etc/flowengine")
    assert config.listeners.fastagi.port == 4573 and config.listeners.fastagi.host == "127.0.0.1"
    assert config.daemon.drain_timeout == 30.0 and config.asterisk.ami is None
    assert config.path(config.routes[0].flow) == "/etc/flowengine/menu.flow.json"
    assert config.path("/abs/x") == "/abs/x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.daemon.max_calls = 3  # type: ignore[misc]


def test_unknown_key_has_a_suggestion_and_a_position():
    assert problems('[listeners.fastagi]\nhost = "0.0.0.0"\nprot = 4573\n' + MINIMAL) == [
        "serve.toml:3:1: error[E_CONFIG]: unknown key 'prot' in [listeners.fastagi]; did you mean 'port'?"]


def test_unknown_section_and_nested_keys():
    found = problems('[listners]\n[[routes]]\ndefault = true\nflow = "x"\nflw = 1\n')
    assert found[0].startswith("serve.toml:1:1: error[E_CONFIG]: unknown key 'listners' in the config; did you mean")
    assert found[1] == "serve.toml:5:1: error[E_CONFIG]: unknown key 'flw' in [routes[1]]; did you mean 'flow'?"


def test_types_and_choices():
    found = problems('[daemon]\nmax_calls = "many"\nlog_format = "jsn"\n[http]\nenabled = 1\n' + MINIMAL)
    assert "serve.toml:2:1: error[E_CONFIG]: 'max_calls' must be an integer, not 'many'" in found
    assert any("'log_format' must be one of json, text, not 'jsn'; did you mean 'json'?" in p for p in found)
    assert any("'enabled' must be true or false" in p for p in found)


def test_inline_table_positions():
    found = problems('[asterisk]\nami = { host = "h", usernme = "u" }\n' + MINIMAL)
    assert found == ["serve.toml:2:21: error[E_CONFIG]: unknown key 'usernme' in [asterisk.ami]; "
                     "did you mean 'username'?"]


def test_route_rules():
    found = problems('[[routes]]\npath = "a"\nnumber = "1"\nflow = "x"\n[[routes]]\nflow = ""\npath = "b"\n'
                     '[[routes]]\ndefault = true\nflow = "y"\ntts = "polly"\n')
    assert "serve.toml:1:1: error[E_CONFIG]: route 1: give exactly one of path, number, extension (or default = true)" in found
    assert any("route 2: 'flow' (the flow file) is required" in p for p in found)
    assert any(p.startswith("serve.toml:11:1:") and "unknown TTS provider 'polly'" in p for p in found)
    assert problems("")[0].endswith("no [[routes]]: add at least one route (path, number, extension or default = true) to a flow")


def test_ami_secret_from_the_environment(monkeypatch):
    text = '[asterisk.ami]\nusername = "fe"\nsecret_env = "FE_TEST_SECRET"\n' + MINIMAL
    assert any("FE_TEST_SECRET is not set" in p for p in problems(text))
    monkeypatch.setenv("FE_TEST_SECRET", "s3cr3t")
    assert parse_config(text).asterisk.ami.resolved_secret() == "s3cr3t"


def test_syntax_error_position():
    assert problems("[daemon\n")[0].startswith("serve.toml:1:")


def test_documented_example_config_is_valid(monkeypatch):
    for name in ("FLOWENGINE_AMI_SECRET", "FREESWITCH_ESL_PASSWORD", "FLOWENGINE_CALLBACK_SECRET"):
        monkeypatch.setenv(name, "s3cr3t")
    monkeypatch.setenv("FLOWENGINE_API_TOKEN", "0123456789abcdef0123")
    config = load_config(ROOT / "docs" / "examples" / "flowengine.toml")
    assert config.routes and config.asterisk.ami is not None and config.freeswitch.inbound is not None
    assert config.control.enabled and config.listeners.esl.enabled


def test_documented_example_config_shows_every_key():
    """The example says it shows every key: a key added to the config must be added to the example."""
    import tomllib

    example = tomllib.loads((ROOT / "docs" / "examples" / "flowengine.toml").read_text())
    secrets = {"secret", "password", "token", "callback_secret", "dsn"}  # shown as their *_env twins

    def missing(cls: type, table: dict, where: str) -> list[str]:
        out = []
        for f in dataclasses.fields(cls):
            value = table[0] if isinstance(table, list) else table
            if f.name in secrets or f.name in ("routes", "providers", "voices", "source", "base_dir"):
                continue
            if f.name not in value:
                out.append(f"{where}.{f.name}")
            elif dataclasses.is_dataclass(nested := _config_class(cls, f.name)):
                out += missing(nested, value[f.name], f"{where}.{f.name}")
        return out

    assert missing(ServeConfig, example, "") == []


def test_tts_cache_cap():
    assert parse_config(MINIMAL, "serve.toml").tts.cache_max_mb == 512
    found = problems("[tts]\ncache_max_mb = -1\n" + MINIMAL)
    assert found == ["serve.toml:2:1: error[E_CONFIG]: cache_max_mb must be 0 (no cap) or more"]


def test_route_format_is_checked_with_the_config():
    found = problems('[[routes]]\ndefault = true\nflow = "menu.xml"\nformat = "inboundxm"\n')
    assert found == ["serve.toml:4:1: error[E_CONFIG]: route 1: unknown format 'inboundxm'; did you mean "
                     "'inboundxml'? (known: actions10, fs-ivr, inboundxml, ir, ivr, pbx, twiml, ytel-ivr)"]


def _config_class(cls: type, name: str) -> type | None:
    """The config class of field `name` of `cls` (unwrapping `X | None` and `list[X]`)."""
    import typing

    hint = typing.get_type_hints(cls)[name]
    for candidate in (hint, *typing.get_args(hint)):
        if dataclasses.is_dataclass(candidate):
            return candidate
    return None
