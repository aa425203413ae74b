"""Rate limits as Discord documents them (https://discord.com/developers/docs/topics/rate-limits):
per-route buckets keyed by the route and its major parameter, announced in ``X-RateLimit-*``
headers on every response; a request to an exhausted bucket gets 429 with ``retry_after``; a
global limit of 50 requests per second across the bot's requests (interaction endpoints are
exempt). Faults injected by tests (a storm of 429s, a 503, a response lost after the request
took effect) live here too, so the REST layer asks one object what to do with a request.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

#: (requests, window seconds) per route template; Discord does not publish its numbers (it
#: announces them in the headers), these are the ones it is commonly observed to announce
ROUTE_LIMITS: dict[str, tuple[int, float]] = {
    "POST /channels/{channel_id}/messages": (5, 5.0),
    "PATCH /channels/{channel_id}/messages/{message_id}": (5, 5.0),
    "POST /webhooks/{webhook_id}/{webhook_token}": (5, 2.0),
    "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}": (5, 2.0),
    "DELETE /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}": (5, 2.0),
    "PUT /applications/{application_id}/commands": (2, 20.0),
    "PUT /applications/{application_id}/guilds/{guild_id}/commands": (2, 20.0),
}
DEFAULT_LIMIT = (10, 10.0)
GLOBAL_PER_SECOND = 50

FaultKind = Literal["429", "503", "lost_response"]


@dataclass
class Bucket:
    route: str
    limit: int
    window: float
    remaining: int
    reset_at: float = 0.0  # monotonic

    @property
    def hash(self) -> str:
        return hashlib.sha1(self.route.encode()).hexdigest()[:16]

    def roll(self, now: float) -> None:
        if now >= self.reset_at:
            self.remaining, self.reset_at = self.limit, now + self.window

    def headers(self, now: float) -> dict[str, str]:
        after = max(0.0, self.reset_at - now)
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": f"{time.time() + after:.3f}",
            "X-RateLimit-Reset-After": f"{after:.3f}",
            "X-RateLimit-Bucket": self.hash,
        }


@dataclass
class Fault:
    route: str  # a route template, e.g. "POST /channels/{channel_id}/messages"
    kind: FaultKind
    count: int  # how many requests it hits
    retry_after: float = 0.25
    hits: int = 0


@dataclass
class Decision:
    """What the REST layer does with a request: serve it, or refuse with 429 / fault."""

    headers: dict[str, str] = field(default_factory=dict)
    limited: Literal["", "route", "global"] = ""
    retry_after: float = 0.0
    fault: Fault | None = None


class RateLimiter:
    def __init__(
        self,
        limits: dict[str, tuple[int, float]] | None = None,
        global_per_second: int = GLOBAL_PER_SECOND,
    ) -> None:
        self.limits = dict(ROUTE_LIMITS if limits is None else limits)
        self.global_per_second = global_per_second
        self.default = DEFAULT_LIMIT
        self.buckets: dict[str, Bucket] = {}
        self.faults: list[Fault] = []
        self._global: deque[float] = deque()

    def inject(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def reset(self) -> None:
        """Fresh buckets and an empty global window."""
        self.buckets.clear()
        self._global.clear()

    def _fault_for(self, route: str) -> Fault | None:
        for f in self.faults:
            if f.route == route and f.hits < f.count:
                f.hits += 1
                return f
        return None

    def decide(self, route: str, major: str, *, exempt_global: bool) -> Decision:
        now = time.monotonic()
        fault = self._fault_for(route)
        if fault is not None and fault.kind != "lost_response":
            return Decision(fault=fault, retry_after=fault.retry_after)
        if not exempt_global:
            while self._global and now - self._global[0] >= 1.0:
                self._global.popleft()
            if len(self._global) >= self.global_per_second:
                return Decision(limited="global", retry_after=1.0 - (now - self._global[0]))
            self._global.append(now)
        limit, window = self.limits.get(route, self.default)
        key = f"{route}:{major}"
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = Bucket(route, limit, window, limit)
        bucket.roll(now)
        if bucket.remaining <= 0:
            return Decision(
                headers=bucket.headers(now), limited="route", retry_after=bucket.reset_at - now
            )
        bucket.remaining -= 1
        return Decision(headers=bucket.headers(now), fault=fault)


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
