import pytest
from uqo.security.errors import AccountLocked, InvalidArgument, RateLimited, SourceNotAllowed
from uqo.security.levels import Role, SecurityLevel
from uqo.security.limits import AttemptGate, SourceLimiter, check_source, parse_ip
from uqo.security.users import User


def _user():
    return User("u1", Role.ANALYST, SecurityLevel.SECRET)


def test_source_bucket_allows_burst_then_refuses_then_refills():
    limiter = SourceLimiter(burst=3, refill_per_s=0.5)
    for _ in range(3):
        limiter.take("10.0.0.1", 100.0)
    with pytest.raises(RateLimited, match="10.0.0.1"):
        limiter.take("10.0.0.1", 100.0)
    limiter.take("10.0.0.2", 100.0)  # another source has its own bucket
    limiter.take("10.0.0.1", 102.0)  # 2 s at 0.5/s refilled one attempt
    with pytest.raises(RateLimited):
        limiter.take("10.0.0.1", 102.0)


def test_source_buckets_are_bounded():
    limiter = SourceLimiter(burst=1, refill_per_s=0.001, max_sources=2)
    for ip in ("a", "b", "c"):
        limiter.take(ip, 0.0)
    limiter.take("a", 0.0)  # "a" was evicted, so it starts full again
    with pytest.raises(RateLimited):
        limiter.take("c", 0.0)


def test_gate_locks_at_the_limit_and_unlocks_after_the_period():
    gate, user = AttemptGate(max_failures=3, lockout_s=60), _user()
    for i in range(3):
        gate.begin(user, 0.0)
        locked = gate.end(user, ok=False, now=0.0)
        assert locked == (i == 2)
    with pytest.raises(AccountLocked) as err:
        gate.begin(user, 30.0)
    assert err.value.until == 60.0
    gate.begin(user, 61.0)  # expired: counters reset
    assert user.failures == 0
    gate.end(user, ok=True, now=61.0)
    assert (user.failures, user.locked_until) == (0, 0.0)


def test_gate_counts_attempts_in_flight():
    gate, user = AttemptGate(max_failures=2, lockout_s=60), _user()
    gate.begin(user, 0.0)
    gate.begin(user, 0.0)
    with pytest.raises(AccountLocked, match="in progress"):
        gate.begin(user, 0.0)
    gate.end(user, ok=True, now=0.0)
    gate.begin(user, 0.0)  # one slot freed


def test_success_resets_failures():
    gate, user = AttemptGate(max_failures=3, lockout_s=60), _user()
    gate.begin(user, 0.0)
    gate.end(user, ok=False, now=0.0)
    gate.begin(user, 0.0)
    gate.end(user, ok=True, now=0.0)
    assert user.failures == 0


def test_allow_lists():
    check_source("10.0.1.100", ())
    check_source("10.0.1.100", ("10.0.0.0/16",))
    check_source("::1", ("10.0.0.0/8", "::1/128"))
    with pytest.raises(SourceNotAllowed, match="10.1.0.1 is not in the account allow-list"):
        check_source("10.1.0.1", ("10.0.0.0/16",), "account")
    with pytest.raises(InvalidArgument, match="^source_ip:"):
        parse_ip("10.0.0.300")
