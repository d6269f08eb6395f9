"""Redis read-through cache for single items, invalidated on writes.

The cache is an optimisation, never a dependency: every Redis failure is absorbed here
and the caller falls back to PostgreSQL. After a failure the cache is bypassed for
`RETRY_AFTER_SECONDS` so that an unreachable Redis costs one timeout per second, not one
per request. If an invalidation could not be delivered, the cached items may be stale
once Redis answers again, so the whole item namespace is flushed before the cache is
trusted again; entries also expire after the TTL, which bounds any other staleness
(for instance a read racing a write).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KEY_PREFIX = "sre-platform:item:"
# Loopback and in-cluster round trips are well under a millisecond; 250 ms means "down".
TIMEOUT_SECONDS = 0.25
RETRY_AFTER_SECONDS = 1.0


def item_key(item_id: int) -> str:
    return f"{KEY_PREFIX}{item_id}"


class ItemCache:
    """Cached JSON bodies of items, keyed by id."""

    def __init__(self, redis_url: str, ttl_seconds: int) -> None:
        self.ttl_seconds = ttl_seconds
        self._client: Redis = Redis.from_url(
            redis_url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            # No retries: a retry loop with backoff would turn a Redis outage into
            # seconds of latency per request; falling back to PostgreSQL is the retry.
            retry=Retry(NoBackoff(), 0),
        )
        self._bypass_until = 0.0
        self._degraded = False
        self._needs_flush = False

    @property
    def degraded(self) -> bool:
        return self._degraded

    async def get(self, item_id: int) -> bytes | None:
        """The cached body, or None on a miss or when the cache cannot be used."""
        if not await self._usable():
            return None
        try:
            value = await self._client.get(item_key(item_id))
        except (RedisError, OSError) as exc:
            self._failed("get", exc)
            return None
        self._succeeded()
        return value if isinstance(value, bytes) else None

    async def put(self, item_id: int, body: bytes) -> None:
        if not await self._usable():
            return
        try:
            await self._client.set(item_key(item_id), body, ex=self.ttl_seconds)
        except (RedisError, OSError) as exc:
            self._failed("set", exc)
        else:
            self._succeeded()

    async def invalidate(self, item_id: int) -> None:
        """Drop an item after a write; if Redis cannot be told, flush everything later."""
        if time.monotonic() < self._bypass_until:
            self._needs_flush = True
            return
        try:
            await self._client.delete(item_key(item_id))
        except (RedisError, OSError) as exc:
            self._needs_flush = True
            self._failed("delete", exc)
        else:
            self._succeeded()

    async def ping(self) -> bool:
        """Whether Redis answers now (always tried: this is what /readyz reports)."""
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            self._failed("ping", exc)
            return False
        self._succeeded()
        return True

    async def close(self) -> None:
        await self._client.aclose()

    async def _usable(self) -> bool:
        if time.monotonic() < self._bypass_until:
            return False
        if self._needs_flush:
            return await self._flush()
        return True

    async def _flush(self) -> bool:
        try:
            async for keys in self._scan_batches():
                await self._client.unlink(*keys)
        except (RedisError, OSError) as exc:
            self._failed("flush", exc)
            return False
        self._needs_flush = False
        log.info("cache flushed after missed invalidations")
        return True

    async def _scan_batches(self) -> AsyncIterator[list[bytes]]:
        batch: list[bytes] = []
        async for key in self._client.scan_iter(match=KEY_PREFIX + "*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                yield batch
                batch = []
        if batch:
            yield batch

    def _failed(self, operation: str, exc: BaseException) -> None:
        self._bypass_until = time.monotonic() + RETRY_AFTER_SECONDS
        if not self._degraded:
            log.warning(
                "cache degraded, serving from PostgreSQL: %s failed: %s",
                operation,
                exc,
                extra={"operation": operation},
            )
        self._degraded = True

    def _succeeded(self) -> None:
        if self._degraded:
            log.info("cache recovered")
        self._degraded = False
