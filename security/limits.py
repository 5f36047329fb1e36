"""Brute-force limits: per-source token buckets, per-account lockout, source allow-lists.

Use cases::

    limiter = SourceLimiter(burst=20, refill_per_s=0.2)
    limiter.take("10.0.1.100", now)           # RateLimited once the bucket is empty

    gate = AttemptGate(max_failures=5, lockout_s=900)
    gate.begin(user, now)                     # AccountLocked if locked (or too many in flight)
    gate.end(user, ok=False, now=now)         # counts the failure; locks at the 5th

    check_source("10.0.1.100", ("10.0.0.0/16",))   # SourceNotAllowed outside the list

``AttemptGate`` counts attempts still being checked (password hashing runs off the event loop)
against the limit too, so concurrent guesses cannot exceed ``max_failures`` in total.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict

from .errors import AccountLocked, InvalidArgument, RateLimited, SourceNotAllowed


class SourceLimiter:
    """A token bucket per source address; at most ``max_sources`` buckets are kept (the least
    recently used go first; a forgotten source starts with a full bucket again)."""

    def __init__(self, burst: int, refill_per_s: float, max_sources: int = 100_000):
        self.burst, self.refill, self.max_sources = burst, refill_per_s, max_sources
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, source: str, now: float) -> None:
        tokens, last = self._buckets.pop(source, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - last) * self.refill)
        if tokens < 1.0:
            self._buckets[source] = (tokens, now)
            raise RateLimited(f"too many attempts from {source}; retry in "
                              f"{(1.0 - tokens) / self.refill:.0f} s")
        self._buckets[source] = (tokens - 1.0, now)
        while len(self._buckets) > self.max_sources:
            self._buckets.popitem(last=False)


class AttemptGate:
    """Per-account lockout over ``User.failures`` / ``User.locked_until`` (which the caller
    persists) plus the attempts in flight (memory only)."""

    def __init__(self, max_failures: int, lockout_s: float):
        self.max_failures, self.lockout_s = max_failures, lockout_s
        self._in_flight: dict[str, int] = {}

    def begin(self, user, now: float) -> None:
        if user.locked_until > now:
            raise AccountLocked(f"account {user.user_id!r} is locked for "
                                f"{user.locked_until - now:.0f} s", user.locked_until)
        if user.locked_until and user.failures >= self.max_failures:
            user.failures, user.locked_until = 0, 0.0  # the lock ran out: a fresh start
        pending = self._in_flight.get(user.user_id, 0)
        if user.failures + pending >= self.max_failures:
            raise AccountLocked(f"account {user.user_id!r}: {pending} attempts in progress "
                                f"would exceed the limit", now)
        self._in_flight[user.user_id] = pending + 1

    def end(self, user, ok: bool, now: float) -> bool:
        """Record the outcome; True when this failure locked the account."""
        pending = self._in_flight.pop(user.user_id, 1) - 1
        if pending > 0:
            self._in_flight[user.user_id] = pending
        if ok:
            user.failures, user.locked_until = 0, 0.0
            return False
        user.failures += 1
        if user.failures >= self.max_failures:
            user.locked_until = now + self.lockout_s
            return True
        return False


def parse_ip(source_ip) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(str(source_ip))
    except ValueError:
        raise InvalidArgument("source_ip", f"not an IP address: {source_ip!r}") from None


def check_source(source_ip, cidrs, whose: str = "site") -> None:
    """Raise ``SourceNotAllowed`` unless ``source_ip`` lies in one of ``cidrs`` (empty: any)."""
    if not cidrs:
        return
    addr = parse_ip(source_ip)
    if not any(addr in ipaddress.ip_network(c) for c in cidrs):
        raise SourceNotAllowed(f"source {addr} is not in the {whose} allow-list")
