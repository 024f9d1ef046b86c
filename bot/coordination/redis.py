"""Coordination over Redis, shared by every web and worker process of a scaled deployment."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Sequence
from typing import Any

import redis.asyncio
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from bot.coordination.base import (
    Bucket,
    Coordinator,
    Lease,
    check_amount,
    check_ttl,
    check_whole,
    limiting,
)
from bot.coordination.memory import Doorbell

# Bucket state is a hash {tokens, when}; "when" is Redis server TIME, so the clocks of the
# processes never matter. A bucket idle until full again is just a missing key.
_BUCKET_LUA = """
local function level(key, rate, burst, now)
  local state = redis.call('HMGET', key, 'tokens', 'when')
  if not state[1] then return burst end
  return math.min(burst, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
end
local function store(key, tokens, rate, burst, now)
  redis.call('HSET', key, 'tokens', string.format('%.17g', tokens), 'when', string.format('%.17g', now))
  redis.call('PEXPIRE', key, string.format('%d', math.ceil((burst - tokens) / rate * 1000) + 1000))
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""

# KEYS: the buckets; ARGV: n, then rate and burst of each bucket. Returns the wait, as text.
TAKE_LUA = (
    _BUCKET_LUA
    + """
local n = tonumber(ARGV[1])
local levels, wait = {}, 0
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  levels[i] = level(key, rate, burst, now)
  if levels[i] < n then wait = math.max(wait, (n - levels[i]) / rate) end
end
if wait > 0 then return string.format('%.17g', wait) end
for i, key in ipairs(KEYS) do
  store(key, levels[i] - n, tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1]), now)
end
return '0'
"""
)

# KEYS[1]: the bucket; ARGV: n, rate, burst. Returns how many tokens were granted.
TAKE_BATCH_LUA = (
    _BUCKET_LUA
    + """
local n, rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens = level(KEYS[1], rate, burst, now)
local granted = math.min(n, math.floor(tokens))
if granted > 0 then store(KEYS[1], tokens - granted, rate, burst, now) end
return granted
"""
)

# KEYS: the buckets; ARGV: rate and burst of each. Takes one token from each bucket that has
# one; returns the wait of each (0 when taken), as text.
TAKE_EACH_LUA = (
    _BUCKET_LUA
    + """
local waits = {}
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local tokens = level(key, rate, burst, now)
  if tokens < 1 then
    waits[i] = string.format('%.17g', (1 - tokens) / rate)
  else
    store(key, tokens - 1, rate, burst, now)
    waits[i] = '0'
  end
end
return waits
"""
)

# KEYS[1]: the schedule; ARGV[1]: seconds between slots. Books the next free slot on the
# server's clock and returns the seconds until it, as a string (Lua numbers lose decimals).
RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or now))
redis.call('SET', KEYS[1], string.format('%.6f', slot + interval),
           'PX', math.ceil((slot + interval - now) * 1000) + 60000)
return string.format('%.6f', slot - now)
"""

# KEYS[1]: the pause; ARGV[1]: milliseconds. A pause only ever grows.
PAUSE_LUA = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
"""

# KEYS[1]: the topic's counter, also its channel; ARGV[1]: counter lifetime in milliseconds.
NOTIFY_LUA = """
local count = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[1], count)
return count
"""

MAX_CONNECTIONS = 64
KINDS = ("lock", "bucket", "schedule", "pause", "seen", "notified")
COUNTER_LIFETIME_MS = 24 * 3600 * 1000
SUBSCRIBE_WAIT = 1.0  # seconds a listen waits for the subscription before it goes on without

log = logging.getLogger(__name__)


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisLease:
    """A lock held through redis-py's ``Lock``, which checks its token on release and extend."""

    def __init__(self, key: str, lock: Lock) -> None:
        self.key = key
        self._lock = lock

    async def release(self) -> None:
        with contextlib.suppress(LockError):  # it lapsed: no longer ours to release
            await self._lock.release()

    async def extend(self, ttl: float) -> bool:
        check_ttl(ttl)
        try:
            return await self._lock.extend(max(ttl, 0.001), replace_ttl=True)
        except LockError:
            return False


class RedisCoordinator(Coordinator):
    """One connection pool for commands and, once something waits, one pub/sub connection.

    Wake-ups: ``notify`` increments a per-topic counter and publishes the new count, in one
    script. A coordinator listens to every topic on one pattern subscription, and each
    ``wait`` first compares the counter with the last count it knew: a notify missed while
    not subscribed (before the first wait, or while the connection was down) is caught there.
    """

    def __init__(self, url: str, prefix: str = "childpact:") -> None:
        # Building the client connects nothing: connections open on first use, after start().
        # A Redis that hangs must fail a request in seconds, not hold a webhook past
        # Twilio's 15-second patience.
        # A bounded pool that waits for a free connection, rather than failing with "too many
        # connections" when many members write at once.
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            url,
            decode_responses=True,
            socket_keepalive=True,
            socket_connect_timeout=3,
            socket_timeout=5,
            max_connections=MAX_CONNECTIONS,
            timeout=10,
        )
        self.client = redis.asyncio.Redis(connection_pool=pool)
        # The subscription waits for messages as long as it takes: no read timeout there.
        self._listen_client = redis.asyncio.from_url(
            url, decode_responses=True, socket_keepalive=True, socket_connect_timeout=3
        )
        self._prefix = prefix
        self._take = self.client.register_script(TAKE_LUA)
        self._take_batch = self.client.register_script(TAKE_BATCH_LUA)
        self._take_each = self.client.register_script(TAKE_EACH_LUA)
        self._pause = self.client.register_script(PAUSE_LUA)
        self._reserve = self.client.register_script(RESERVE_LUA)
        self._notify = self.client.register_script(NOTIFY_LUA)
        self._doorbell = Doorbell()
        self._counts: dict[str, int] = {}
        self._subscribed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Fail at start, in words an operator can act on, when Redis does not answer."""
        try:
            await self.client.ping()
        except (RedisError, OSError) as error:
            raise ConnectionError(f"Redis at REDIS_URL does not answer: {error}") from error

    async def close(self) -> None:
        if self._listener is not None:
            await _stop(self._listener)
            self._listener = None
        await self.client.aclose(close_connection_pool=True)
        await self._listen_client.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (RedisError, OSError):
            return False

    async def try_lock(self, key: str, ttl: float = 30.0) -> Lease | None:
        check_ttl(ttl)
        lock = Lock(
            self.client,
            self._key("lock", key),
            timeout=max(ttl, 0.001),
            blocking=False,
            thread_local=False,  # a lease may be released by another task than the one that took it
        )
        return RedisLease(key, lock) if await lock.acquire() else None

    async def take(self, buckets: Sequence[Bucket], n: float = 1) -> float:
        limited = limiting(buckets, n)
        if not limited:
            return 0.0
        args: list[float] = [n]
        for bucket in limited:
            args += [bucket.rate, bucket.burst]
        keys = [self._key("bucket", bucket.key) for bucket in limited]
        return float(await self._take(keys=keys, args=args))

    async def take_batch(self, bucket: Bucket, n: int) -> int:
        check_amount(n)
        if bucket.unlimited:
            return n
        keys = [self._key("bucket", bucket.key)]
        return int(await self._take_batch(keys=keys, args=[n, bucket.rate, bucket.burst]))

    async def take_each(self, buckets: Sequence[Bucket]) -> list[float]:
        limited = [i for i, bucket in enumerate(buckets) if not bucket.unlimited]
        waits = [0.0] * len(buckets)
        if not limited:
            return waits
        keys: list[str] = []
        args: list[float] = []
        for i in limited:
            bucket = buckets[i]
            check_whole(bucket)
            keys.append(self._key("bucket", bucket.key))
            args += [bucket.rate, bucket.burst]
        for i, wait in zip(limited, await self._take_each(keys=keys, args=args), strict=True):
            waits[i] = float(wait)
        return waits

    async def reserve(self, key: str, interval: float) -> float:
        return float(await self._reserve(keys=[self._key("schedule", key)], args=[interval]))

    async def pause(self, scope: str, seconds: float) -> None:
        if seconds > 0:
            await self._pause(keys=[self._key("pause", scope)], args=[_ms(seconds)])

    async def paused_for(self, scope: str) -> float:
        return max(0, await self.client.pttl(self._key("pause", scope))) / 1000

    async def seen(self, key: str, ttl: float) -> bool:
        check_ttl(ttl)
        return not await self.client.set(self._key("seen", key), "1", nx=True, px=_ms(ttl))

    async def notify(self, topic: str) -> None:
        await self._notify(keys=[self._key("notified", topic)], args=[COUNTER_LIFETIME_MS])

    async def wait(self, topic: str, timeout: float) -> bool:  # noqa: ASYNC109
        deadline = asyncio.get_running_loop().time() + timeout
        await self._catch_up(topic, timeout)
        left = max(0.0, deadline - asyncio.get_running_loop().time())
        return await self._doorbell.wait(topic, left)

    async def listen(self, topic: str) -> asyncio.Event:
        event = self._doorbell.listen(topic)
        await self._catch_up(topic, SUBSCRIBE_WAIT)
        return event

    async def _catch_up(self, topic: str, timeout: float) -> None:  # noqa: ASYNC109
        """Subscribe (waiting up to ``timeout``), then ring for a notify missed meanwhile."""
        if self._listener is None or self._listener.done():  # first wait, or it crashed
            self._listener = asyncio.create_task(self._listen(), name="coordination-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout)
        # Even when the subscription is not up yet, the counter tells of a notify missed.
        count = int(await self.client.get(self._key("notified", topic)) or 0)
        self._heard(topic, count, catching_up=True)

    async def forget(self, keys: Sequence[str]) -> None:
        if keys:
            await self.client.delete(*(self._key(kind, key) for key in keys for kind in KINDS))

    def _key(self, kind: str, key: str) -> str:
        return f"{self._prefix}{kind}:{key}"

    def _heard(self, topic: str, count: int, *, catching_up: bool) -> None:
        # A counter lower than known was reset (expired or forgotten): only a read says so,
        # as a stale message can arrive after a read of a newer count.
        known = self._counts.get(topic, 0)
        if count > known or (catching_up and count != known):
            self._counts[topic] = count
            self._doorbell.ring(topic)

    async def _listen(self) -> None:
        channels = self._key("notified", "")
        pubsub = self._listen_client.pubsub()
        try:
            while True:
                try:
                    if not pubsub.subscribed:
                        await pubsub.psubscribe(_glob_escape(channels) + "*")
                    async for message in pubsub.listen():
                        self._on_message(message, channels)
                except (RedisError, OSError):
                    # Notifies sent meanwhile are caught up by the counter read of the next wait.
                    self._subscribed.clear()
                    await asyncio.sleep(0.5)
        finally:
            self._subscribed.clear()
            await pubsub.aclose()

    def _on_message(self, message: dict[str, Any], channels: str) -> None:
        if message["type"] == "psubscribe":
            self._subscribed.set()
        elif message["type"] == "pmessage":
            self._heard(
                message["channel"][len(channels) :], int(message["data"]), catching_up=False
            )


async def _stop(task: asyncio.Task[None], tries: int = 10) -> None:
    """Cancel ``task`` and wait until it has ended.

    redis-py can swallow a cancellation that lands while a pub/sub connection is still being
    set up, and then goes on listening: a single cancel would leave ``close`` waiting forever.
    So cancel again until the task is done, and after ``tries`` seconds leave it behind.
    """
    for _ in range(tries):
        if task.done():
            break
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    if not task.done():
        log.warning("coordination: the Redis listener did not stop; leaving it behind")
    elif not task.cancelled():
        task.exception()  # looked at, so that asyncio does not report it again at exit
