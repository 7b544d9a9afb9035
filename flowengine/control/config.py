"""`[control]` and `[store]` of the serve config: the HTTP control API and where its state lives.

    [control]
    enabled = true
    tokens = [{token_env = "FLOWENGINE_API_TOKEN"}, {token_env = "FLOWENGINE_READ_TOKEN", scope = "read"}]
    callback_secret_env = "FLOWENGINE_CALLBACK_SECRET"
    [store]
    kind = "postgresql"
    dsn_env = "FLOWENGINE_STORE_DSN"

Rules kept here: the dataclasses are frozen and their fields are the only keys allowed (the daemon's
config loader builds them and reports unknown keys); secrets may come from the environment so the
file can be shared; `check()` returns the cross-key problems the loader reports with positions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = ["ControlConfig", "StoreConfig", "TokenConfig", "SCOPES", "STORE_KINDS", "check"]

SCOPES = ("read", "write")
STORE_KINDS = ("sqlite", "postgresql")


def _env(value: str, name: str) -> str:
    return value or (os.environ.get(name, "") if name else "")


@dataclass(frozen=True)
class TokenConfig:
    token: str = ""
    token_env: str = ""
    """Name of an environment variable holding the token (used when `token` is empty)."""
    scope: str = "write"
    """read: GET requests only; write: every endpoint."""
    name: str = ""
    """Who holds the token, for the logs (the token itself is never logged)."""

    def resolved(self) -> str:
        return _env(self.token, self.token_env)


@dataclass(frozen=True)
class ControlConfig:
    enabled: bool = False
    tokens: list[TokenConfig] = field(default_factory=list)
    status_callback: str = ""
    """URL that gets every API-started call's status callbacks (a request may name one more)."""
    callback_secret: str = ""
    callback_secret_env: str = ""
    """HMAC-SHA256 key of the `X-Flowengine-Signature` header on status callbacks."""
    callback_attempts: int = 3
    builtin_flows: str = ""
    """Directory of the built-in flows (default: the ones shipped with flowengine, flows/builtin here)."""
    daemon_id: str = ""
    """This daemon's name in the shared store (default: host name and HTTP port)."""
    redirect_context: str = "flowengine-redirect"
    """Asterisk dialplan context an AMI Redirect sends a live call to (see docs/control-api.md)."""
    redirect_timeout: float = 10.0
    poll_interval: float = 1.0
    """Seconds between looks at the store for due callbacks and campaign work of other daemons."""
    max_contacts: int = 100_000

    def secret(self) -> str:
        return _env(self.callback_secret, self.callback_secret_env)


@dataclass(frozen=True)
class StoreConfig:
    kind: str = "sqlite"
    sqlite: str = "flowengine-control.sqlite"
    """Path of the SQLite database (relative to the config file)."""
    dsn: str = ""
    dsn_env: str = ""
    """PostgreSQL connection string, or the environment variable that holds it."""

    def resolved_dsn(self) -> str:
        return _env(self.dsn, self.dsn_env)


def check(control: ControlConfig, store: StoreConfig) -> list[tuple[tuple, str]]:
    """Cross-key problems as (key path, message)."""
    problems: list[tuple[tuple, str]] = []
    for index, token in enumerate(control.tokens):
        path = ("control", "tokens", index)
        if token.scope not in SCOPES:
            problems.append((path + ("scope",), f"token scope must be one of {', '.join(SCOPES)}, not {token.scope!r}"))
        if token.token_env and not token.token and token.token_env not in os.environ:
            problems.append((path + ("token_env",), f"the environment variable {token.token_env} is not set"))
        elif not token.resolved():
            problems.append((path, "a token needs `token` or `token_env`"))
        elif len(token.resolved()) < 16:
            problems.append((path, "a token must be at least 16 characters long"))
    if control.enabled and not control.tokens:
        problems.append((("control",), "the control API needs at least one bearer token ([[control.tokens]])"))
    if control.callback_secret_env and not control.callback_secret \
            and control.callback_secret_env not in os.environ:
        problems.append((("control", "callback_secret_env"),
                         f"the environment variable {control.callback_secret_env} is not set"))
    if control.status_callback and not control.secret():
        problems.append((("control", "status_callback"), "status callbacks are signed: set callback_secret "
                                                         "or callback_secret_env"))
    if control.callback_attempts < 1:
        problems.append((("control", "callback_attempts"), "callback_attempts must be at least 1"))
    if control.poll_interval <= 0:
        problems.append((("control", "poll_interval"), "poll_interval must be more than 0"))
    if store.kind not in STORE_KINDS:
        problems.append((("store", "kind"), f"store kind must be one of {', '.join(STORE_KINDS)}, not {store.kind!r}"
                                            + (" (Redis is not supported: use PostgreSQL to share state)"
                                               if store.kind == "redis" else "")))
    elif store.kind == "postgresql" and not store.resolved_dsn():
        problems.append((("store",), "a postgresql store needs `dsn` or `dsn_env` (set in the environment)"))
    return problems
