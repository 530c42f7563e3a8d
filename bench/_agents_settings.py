"""Settings for the agents benchmarks: local settings, with channel-layer Redis reads that outlast
channels_redis' 5 s BZPOPMIN.

redis-py reads with a 5 s socket timeout by default, the same 5 s that channels_redis blocks in
BZPOPMIN, so a websocket consumer could die with `Timeout reading from 127.0.0.1:6379` about five
seconds after it connected. Settings that already give the layer a socket timeout are kept.
"""

from typing import Any

from config.settings.local import *  # noqa: F403
from config.settings.local import CHANNEL_LAYERS

_hosts: list[Any] = CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [
    {"address": host, "socket_timeout": 15} if isinstance(host, str) else host for host in _hosts
]
