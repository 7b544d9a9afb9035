"""The HTTP control API and the outbound work behind it: API-started calls and live-call control,
scheduled callbacks, campaigns, and the store they share between daemons. See docs/control-api.md.

    from flowengine.control import ControlService
    ControlService(daemon).install()          # before daemon.start()

Modules: config (the [control]/[store] settings), models (request bodies), api (routes), auth (bearer
tokens), calls (placing and controlling calls), backends (per-switch hang-up/redirect), flows (which
flow a request runs), callbacks (signed status callbacks), scheduler, pacer, store, clock.
This package imports lazily: the daemon's config module imports `control.config` alone.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ControlService", "ControlConfig", "StoreConfig"]


def __getattr__(name: str) -> Any:
    if name == "ControlService":
        from .service import ControlService

        return ControlService
    if name in ("ControlConfig", "StoreConfig"):
        from . import config

        return getattr(config, name)
    raise AttributeError(name)
