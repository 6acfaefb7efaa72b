"""A run's state in the shared frontier: Redis keys and the atomic steps on them.

Keys (``evidence:`` prefix, so one Redis database can also hold other things):

- ``evidence:current``: the id of the run workers join;
- ``evidence:run:ID:queue``: URLs waiting (a list, scrapy-redis ``FifoQueue`` order);
- ``evidence:run:ID:dupefilter``: request fingerprints pushed (scrapy-redis ``RFPDupeFilter``);
- ``evidence:run:ID:inflight``: URL -> id of the worker holding its lease (hash);
- ``evidence:run:ID:done``: URLs whose capture is committed, or given up (set);
- ``evidence:run:ID:failures``: URL -> times it was lost inside a live worker (hash);
- ``evidence:run:ID:total``, ``:state`` (running, finished, stopped), ``:settings`` (JSON),
  ``:database`` (the identity of the run's database, checked by workers);
- ``evidence:worker:ID``: a worker's heartbeat, expiring after the lease time;
- ``evidence:host:HOST``: taken for the per-host delay (:mod:`crawler.scaleout.frontier.politeness`).

Every step that moves a URL between the queue, the in-flight hash and the done set is
one Lua script, which Redis runs atomically: a worker killed between two commands can
never leave a URL in neither place.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import redis
from scrapy import Request
from scrapy_redis.dupefilter import RFPDupeFilter

from crawler.exceptions import FrontierError

PREFIX = "evidence:"
CURRENT_KEY = PREFIX + "current"

# KEYS: queue, inflight, state; ARGV: worker id. The URL leaves the queue and is leased
# at once; nothing is handed out once the run is stopped.
_LEASE = """
if redis.call('GET', KEYS[3]) ~= 'running' then return nil end
local url = redis.call('RPOP', KEYS[1])
if url then redis.call('HSET', KEYS[2], url, ARGV[1]) end
return url
"""
# KEYS: inflight, done; ARGV: url.
_COMPLETE = """
redis.call('HDEL', KEYS[1], ARGV[1])
return redis.call('SADD', KEYS[2], ARGV[1])
"""
# KEYS: inflight, queue, done; ARGV: worker key prefix. Leases of workers without a
# heartbeat go back to the end of the queue that is popped next.
_REAP = """
local entries = redis.call('HGETALL', KEYS[1])
local requeued = 0
for i = 1, #entries, 2 do
  local url, worker = entries[i], entries[i + 1]
  if redis.call('EXISTS', ARGV[1] .. worker) == 0 then
    redis.call('HDEL', KEYS[1], url)
    if redis.call('SISMEMBER', KEYS[3], url) == 0 then
      redis.call('RPUSH', KEYS[2], url)
      requeued = requeued + 1
    end
  end
end
return requeued
"""
# KEYS: inflight, queue, done, failures; ARGV: worker id, tries. Leases a live worker
# holds while it is idle were lost inside it (a recording that failed): back on the
# queue, until a URL has failed this many times; then it is given up (done, no capture,
# and the run ends incomplete rather than never).
_RELEASE = """
local entries = redis.call('HGETALL', KEYS[1])
local released = 0
for i = 1, #entries, 2 do
  if entries[i + 1] == ARGV[1] then
    local url = entries[i]
    redis.call('HDEL', KEYS[1], url)
    if redis.call('HINCRBY', KEYS[4], url, 1) < tonumber(ARGV[2]) then
      redis.call('RPUSH', KEYS[2], url)
    else
      redis.call('SADD', KEYS[3], url)
    end
    released = released + 1
  end
end
return released
"""
# How long a finished run's keys stay, in seconds.
KEEP_FINISHED_SECONDS = 24 * 3600
# How often a URL may be lost inside a live worker before it is given up.
MAX_TRIES = 3


def connect(url: str) -> redis.Redis:
    """A client for the frontier at ``url`` (``redis://HOST:PORT/N``), checked with a ping."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
        client.ping()
    except ValueError as exc:
        raise FrontierError(f"cannot use frontier URL {url!r}: {exc}; write it as redis://HOST:PORT/N") from exc
    except redis.RedisError as exc:
        raise FrontierError(f"cannot reach the frontier {url}: {exc}; check that Redis runs there") from exc
    return client


def default_worker_id() -> str:
    return worker_id(f"{socket.gethostname()}_{os.getpid()}")


def worker_id(value: str) -> str:
    """A worker id safe in WARC file names and Redis keys."""
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", value)[:64]
    if not cleaned:
        raise FrontierError(f"worker id {value!r} has no letters or digits")
    return cleaned


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    inflight: int
    queued: int
    workers: int
    state: str


class RunFrontier:
    """The frontier keys of one run."""

    def __init__(self, client: redis.Redis, run_id: int) -> None:
        self.client = client
        self.run_id = run_id
        base = f"{PREFIX}run:{run_id}:"
        self.queue_key = base + "queue"
        self.dupefilter_key = base + "dupefilter"
        self.inflight_key = base + "inflight"
        self.done_key = base + "done"
        self.total_key = base + "total"
        self.state_key = base + "state"
        self.settings_key = base + "settings"
        self.failures_key = base + "failures"
        self.database_key = base + "database"
        self.worker_prefix = PREFIX + "worker:"
        self._lease = client.register_script(_LEASE)
        self._complete = client.register_script(_COMPLETE)
        self._reap = client.register_script(_REAP)
        self._release = client.register_script(_RELEASE)

    # --- the coordinator --------------------------------------------------------------

    def publish(self, urls: Iterable[str], settings: dict[str, Any], database: str) -> int:
        """Push the run's URLs (each once, through the scrapy-redis dupefilter) and open it."""
        dupefilter = ExactUrlDupeFilter(self.client, self.dupefilter_key)
        pushed = 0
        pipe = self.client.pipeline()
        for url in urls:
            if dupefilter.request_seen(Request(url)):
                continue
            # LPUSH + RPOP: the order of scrapy-redis's FifoQueue.
            pipe.lpush(self.queue_key, url)
            pushed += 1
        pipe.set(self.total_key, pushed)
        pipe.set(self.settings_key, json.dumps(settings))
        pipe.set(self.database_key, database)
        pipe.set(self.state_key, "running")
        pipe.set(CURRENT_KEY, self.run_id)
        pipe.execute()
        return pushed

    def close(self, state: str) -> None:
        """Tell every worker the run is over (``finished`` or ``stopped``).

        The run's keys then expire after a day: late workers still learn that the run is
        over, and a Redis serving many runs does not keep every run's URL sets forever.
        """
        pipe = self.client.pipeline()
        pipe.set(self.state_key, state)
        for key in self.run_keys():
            pipe.expire(key, KEEP_FINISHED_SECONDS)
        pipe.execute()

    def run_keys(self) -> list[str]:
        return [
            self.queue_key, self.dupefilter_key, self.inflight_key, self.done_key, self.total_key,
            self.state_key, self.settings_key, self.failures_key, self.database_key,
        ]

    # --- workers ----------------------------------------------------------------------

    def lease(self, worker: str) -> str | None:
        url = self._lease(keys=[self.queue_key, self.inflight_key, self.state_key], args=[worker])
        return None if url is None else cast(bytes, url).decode()

    def complete(self, url: str) -> None:
        self._complete(keys=[self.inflight_key, self.done_key], args=[url])

    def heartbeat(self, worker: str, ttl: float) -> None:
        self.client.set(self.worker_prefix + worker, self.run_id, px=max(int(ttl * 1000), 1))

    def release_lost(self, worker: str) -> int:
        """Leases ``worker`` holds although it has nothing in hand (call when it is idle)."""
        keys = [self.inflight_key, self.queue_key, self.done_key, self.failures_key]
        return int(self._release(keys=keys, args=[worker, MAX_TRIES]))

    def retire(self, worker: str) -> None:
        """A worker leaving on purpose: its leases (if any) are free at once."""
        self.client.delete(self.worker_prefix + worker)
        self.reap()

    def database(self) -> str | None:
        """The identity (``meta.database_id``) of the database the run was created in."""
        raw = self.client.get(self.database_key)
        return None if raw is None else cast(bytes, raw).decode()

    def settings(self) -> dict[str, Any]:
        raw = self.client.get(self.settings_key)
        return dict(json.loads(raw)) if raw else {}

    # --- everyone ---------------------------------------------------------------------

    def reap(self) -> int:
        """Put the leases of workers whose heartbeat expired back on the queue."""
        return int(self._reap(keys=[self.inflight_key, self.queue_key, self.done_key], args=[self.worker_prefix]))

    def worker_state(self) -> str | None:
        """The run's state as a worker should act on it: ``finished`` as soon as every URL
        is done, even if the coordinator that would say so is gone."""
        pipe = self.client.pipeline()
        pipe.get(self.state_key)
        pipe.scard(self.done_key)
        pipe.get(self.total_key)
        state, done, total = pipe.execute()
        if state == b"running" and total is not None and int(done) >= int(total):
            return "finished"
        return None if state is None else cast(bytes, state).decode()

    def state(self) -> str | None:
        raw = self.client.get(self.state_key)
        return None if raw is None else cast(bytes, raw).decode()

    def queued(self) -> int:
        return int(self.client.llen(self.queue_key))

    def takeable(self) -> int:
        """URLs a worker could take now: the queue's length while the run is running."""
        pipe = self.client.pipeline()
        pipe.llen(self.queue_key)
        pipe.get(self.state_key)
        queued, state = pipe.execute()
        return int(queued) if state == b"running" else 0

    def progress(self) -> Progress:
        pipe = self.client.pipeline()
        pipe.get(self.total_key)
        pipe.scard(self.done_key)
        pipe.hlen(self.inflight_key)
        pipe.llen(self.queue_key)
        pipe.get(self.state_key)
        pipe.hvals(self.inflight_key)
        total, done, inflight, queued, state, holders = pipe.execute()
        return Progress(
            total=int(total or 0),
            done=int(done),
            inflight=int(inflight),
            queued=int(queued),
            workers=len(set(holders)),
            state=state.decode() if state else "",
        )


class ExactUrlDupeFilter(RFPDupeFilter):  # type: ignore[misc]
    """scrapy-redis's dupefilter keyed by the URL exactly as cited.

    Its default fingerprint canonicalizes (sorts the query, drops the fragment), which
    would merge two cited URLs that evidence keeps apart as two targets.
    """

    def request_fingerprint(self, request: Request) -> str:
        return hashlib.sha1(request.url.encode("utf-8")).hexdigest()


def current_run(client: redis.Redis) -> int | None:
    raw = client.get(CURRENT_KEY)
    return int(raw) if raw else None
