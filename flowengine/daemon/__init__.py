"""The flow daemon (`flowengine serve`): listeners, routing, the flow registry, admission, drain,
metrics, call records and JSON logs. See docs/daemon.md.
"""

from .config import ConfigError, ServeConfig, load_config, parse_config
from .server import Daemon

__all__ = ["ConfigError", "ServeConfig", "load_config", "parse_config", "Daemon"]
