"""Brute-force limits: per-source token buckets, per-account lockout, source allow-lists.

Use cases::

    limiter = SourceLimiter(burst=20, refill_per_s=0.2)
    limiter.take("10.0.1.100", now)           # RateLimited once the bucket is empty

    gate = AttemptGate(max_failures=5, lockout_s=900, path="lockouts.json")
    key = gate.key("analyst-001", "10.0.1.100")   # (name, "10.0.1.0/24"), known or not
    gate.begin(key, now)                      # AccountLocked if locked (or too many in flight)
    gate.end(key, ok=False, now=now)          # counts the failure; locks at the 5th

    check_source("10.0.1.100", ("10.0.0.0/16",))   # SourceNotAllowed outside the list

``AttemptGate`` counts attempts still being checked (password hashing runs off the event loop)
against the limit too, so concurrent guesses cannot exceed ``max_failures`` in total.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections import OrderedDict

from uqo.fsutil import atomic_write

from .errors import AccountLocked, InvalidArgument, RateLimited, SecurityError, SourceNotAllowed


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


def source_network(source: str) -> str:
    """The network a lockout counts against: the /24 of an IPv4 address, the /64 of IPv6
    (one host or one site; an attacker elsewhere cannot lock a user out from here)."""
    addr = parse_ip(source)
    prefix = 24 if addr.version == 4 else 64
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


class AttemptGate:
    """Per-(account, source network) lockout, for known and unknown account names alike, plus
    the attempts in flight (which count against the limit too).

    Keyed by the *name* tried, whether or not an account has it, so an unknown name locks after
    ``max_failures`` exactly like a real one (no enumeration), and by the source network, so
    failures from one network lock that network out of the account, not its owner everywhere.
    Failure counts live in memory (at most ``max_keys``, least recently used dropped); locks are
    written to ``path`` (atomically) when set or cleared, so a restart keeps them."""

    def __init__(self, max_failures: int, lockout_s: float, path: str | None = None,
                 max_keys: int = 100_000, max_locks: int = 10_000):
        self.max_failures, self.lockout_s, self.path = max_failures, lockout_s, path
        self.max_keys, self.max_locks = max_keys, max_locks
        self._failures: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._locks: dict[tuple[str, str], float] = {}
        self._in_flight: dict[tuple[str, str], int] = {}
        if path and os.path.exists(path):
            self._load()

    @staticmethod
    def key(name: str, source: str) -> tuple[str, str]:
        return (name, source_network(source))

    def begin(self, key: tuple[str, str], now: float) -> None:
        """Raise ``AccountLocked`` if ``key`` is locked or its attempts would pass the limit."""
        until = self._locks.get(key, 0.0)
        if until > now:
            raise AccountLocked(f"account {key[0]!r} is locked for {until - now:.0f} s "
                                f"(too many failed attempts from {key[1]})", until)
        if until:                              # the lock ran out: a fresh start
            self._unlock([key])
        pending = self._in_flight.get(key, 0)
        if self._failures.get(key, 0) + pending >= self.max_failures:
            raise AccountLocked(f"account {key[0]!r}: {pending} attempts in progress would "
                                f"exceed the limit", now)
        self._in_flight[key] = pending + 1

    def end(self, key: tuple[str, str], ok: bool, now: float) -> bool:
        """Record the outcome; True when this failure locked ``key``."""
        pending = self._in_flight.pop(key, 1) - 1
        if pending > 0:
            self._in_flight[key] = pending
        if ok:
            self._failures.pop(key, None)
            return False
        failures = self._failures.pop(key, 0) + 1
        self._failures[key] = failures
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)
        if failures < self.max_failures:
            return False
        self._locks[key] = now + self.lockout_s
        self._failures.pop(key, None)
        self._trim(now)
        self._flush()
        return True

    def locked(self, name: str, now: float) -> list[str]:
        """The source networks ``name`` is locked out from now."""
        return sorted(net for (user, net), until in self._locks.items()
                      if user == name and until > now)

    def locked_names(self, now: float) -> list[str]:
        """Every name locked out from some network now."""
        return sorted({user for (user, _), until in self._locks.items() if until > now})

    def unlock(self, name: str) -> int:
        """Clear every lock and count of ``name``; returns how many locks were cleared."""
        keys = [k for k in self._locks if k[0] == name]
        for k in [k for k in self._failures if k[0] == name]:
            del self._failures[k]
        self._unlock(keys)
        return len(keys)

    def _unlock(self, keys) -> None:
        for k in keys:
            self._locks.pop(k, None)
            self._failures.pop(k, None)
        self._flush()

    def _trim(self, now: float) -> None:
        self._locks = {k: u for k, u in self._locks.items() if u > now}
        while len(self._locks) > self.max_locks:
            self._locks.pop(min(self._locks, key=self._locks.get))

    def _flush(self) -> None:
        if self.path:
            body = [[user, net, until] for (user, net), until in sorted(self._locks.items())]
            atomic_write(self.path, json.dumps({"locks": body}).encode())

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                rows = json.load(fh)["locks"]
            self._locks = {(str(u), str(n)): float(t) for u, n, t in rows}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SecurityError(f"cannot read the lockout file {self.path}: {exc}") from None


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
