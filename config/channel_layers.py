"""The channel layer the websocket consumers use: channels_redis's, riding out a Redis restart.

Every websocket consumer waits on its channel-layer channel (a BZPOPMIN on Redis) alongside the
socket. When Redis went away, that wait raised ConnectionError out of the consumer, and channels
closed the socket at once: streams in progress were cut without a frame, and sockets opened
during the outage died straight after their handshake (the Redis drill of make drills). Nothing
in this project sends on the layer, so a lost Redis must not end a conversation: receive() here
logs the failure, counts it (rag_redis_errors_total{component="channel_layer",policy="retry"}),
waits (0.5 s doubling to 5 s) and tries again on a new connection, which redis-py opens on the
next command. Turns keep streaming meanwhile; the layer is back within a retry of Redis.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis
from channels_redis.core import RedisChannelLayer

from monitoring import metrics

logger = logging.getLogger(__name__)

#: what a Redis restart raises from the layer's receive
REDIS_LOST: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    OSError,
)
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0


class ReconnectingRedisChannelLayer(RedisChannelLayer):
    """channels_redis's layer whose receive() waits for Redis to return instead of raising."""

    async def receive(self, channel: str) -> dict[str, Any]:
        delay = RETRY_FIRST_SECONDS
        failing = False
        while True:
            try:
                message: dict[str, Any] = await super().receive(channel)
            except REDIS_LOST as exc:
                metrics.REDIS_ERRORS.labels(component="channel_layer", policy="retry").inc()
                if not failing:
                    logger.warning(
                        "channel layer: Redis unreachable (%s); retrying every %.1f-%.0f s",
                        type(exc).__name__,
                        RETRY_FIRST_SECONDS,
                        RETRY_MAX_SECONDS,
                    )
                failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            if failing:
                logger.warning("channel layer: Redis reachable again")
            return message
