"""`[control]` and `[store]` in the serve config: checked like every other section."""

from __future__ import annotations

import pytest

from flowengine.daemon.config import ConfigError, parse_config

ROUTE = '[[routes]]\ndefault = true\nflow = "x.flow.json"\n'
TOKEN = '[[control.tokens]]\ntoken = "0123456789abcdef"\n'


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text + ROUTE, "fe.toml")
    return [d.render().splitlines()[0] for d in caught.value.diagnostics]


def test_control_defaults_are_off_and_sqlite():
    config = parse_config(ROUTE)
    assert config.control.enabled is False and config.store.kind == "sqlite"
    assert config.store.sqlite == "flowengine-control.sqlite"


def test_a_full_control_section(monkeypatch):
    monkeypatch.setenv("FE_TOKEN", "from-the-environment-1234")
    monkeypatch.setenv("FE_DSN", "host=/tmp dbname=fe")
    config = parse_config('[control]\nenabled = true\ncallback_secret = "s3cr3t"\nstatus_callback = "https://h/x"\n'
                          '[[control.tokens]]\ntoken_env = "FE_TOKEN"\nscope = "read"\nname = "grafana"\n'
                          '[store]\nkind = "postgresql"\ndsn_env = "FE_DSN"\n' + ROUTE)
    assert config.control.tokens[0].resolved() == "from-the-environment-1234"
    assert config.control.tokens[0].scope == "read" and config.store.resolved_dsn() == "host=/tmp dbname=fe"


def test_control_mistakes_are_reported_with_positions(monkeypatch):
    monkeypatch.delenv("FE_MISSING", raising=False)
    found = problems('[control]\nenabled = true\ntokenz = []\n')
    assert found == ["fe.toml:3:1: error[E_CONFIG]: unknown key 'tokenz' in [control]; did you mean 'tokens'?"]
    found = problems('[control]\nenabled = true\n')
    assert any("needs at least one bearer token" in p for p in found)
    found = problems('[control]\nenabled = true\n[[control.tokens]]\ntoken = "short"\nscope = "admin"\n')
    assert any("at least 16 characters" in p for p in found) and any("token scope must be one of" in p for p in found)
    found = problems('[control]\nstatus_callback = "https://h/x"\n' + TOKEN)
    assert any("status callbacks are signed" in p for p in found)
    found = problems('[control]\n[[control.tokens]]\ntoken_env = "FE_MISSING"\n')
    assert any("FE_MISSING is not set" in p for p in found)
    found = problems('[store]\nkind = "redis"\n')
    assert found == ["fe.toml:2:1: error[E_CONFIG]: store kind must be one of sqlite, postgresql, not 'redis' "
                     "(Redis is not supported: use PostgreSQL to share state)"]
    found = problems('[store]\nkind = "postgresql"\n')
    assert any("needs `dsn` or `dsn_env`" in p for p in found)
