import pytest
from uqo.security.errors import AccountLocked, InvalidArgument, RateLimited, SourceNotAllowed
from uqo.security.limits import AttemptGate, SourceLimiter, check_source, parse_ip


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


def test_gate_locks_at_the_limit_and_unlocks_after_the_period(tmp_path):
    gate = AttemptGate(max_failures=3, lockout_s=60, path=str(tmp_path / "locks.json"))
    key = gate.key("u1", "10.0.1.7")
    assert key == ("u1", "10.0.1.0/24")
    for i in range(3):
        gate.begin(key, 0.0)
        assert gate.end(key, ok=False, now=0.0) == (i == 2)
    with pytest.raises(AccountLocked) as err:
        gate.begin(key, 30.0)
    assert err.value.until == 60.0
    again = AttemptGate(max_failures=3, lockout_s=60, path=str(tmp_path / "locks.json"))
    with pytest.raises(AccountLocked):         # the lock survives a restart
        again.begin(key, 30.0)
    assert again.locked("u1", 30.0) == ["10.0.1.0/24"]
    gate.begin(key, 61.0)                      # expired: a fresh start
    gate.end(key, ok=True, now=61.0)
    assert gate.locked("u1", 61.0) == []


def test_a_lockout_holds_one_network_out_not_the_owner_everywhere():
    gate = AttemptGate(max_failures=2, lockout_s=60)
    attacker, owner = gate.key("admin", "203.0.113.9"), gate.key("admin", "10.0.1.7")
    for _ in range(2):
        gate.begin(attacker, 0.0)
        gate.end(attacker, ok=False, now=0.0)
    with pytest.raises(AccountLocked):
        gate.begin(attacker, 1.0)
    gate.begin(owner, 1.0)                     # the owner's network is not locked
    v6 = gate.key("admin", "2001:db8::1")
    assert v6 == ("admin", "2001:db8::/64")
    assert gate.unlock("admin") == 1 and gate.locked("admin", 1.0) == []


def test_gate_counts_attempts_in_flight():
    gate = AttemptGate(max_failures=2, lockout_s=60)
    key = gate.key("u1", "::1")
    gate.begin(key, 0.0)
    gate.begin(key, 0.0)
    with pytest.raises(AccountLocked, match="in progress"):
        gate.begin(key, 0.0)
    gate.end(key, ok=True, now=0.0)
    gate.begin(key, 0.0)  # one slot freed


def test_success_resets_failures():
    gate = AttemptGate(max_failures=2, lockout_s=60)
    key = gate.key("u1", "::1")
    for ok in (False, True, False):
        gate.begin(key, 0.0)
        gate.end(key, ok=ok, now=0.0)
    gate.begin(key, 0.0)                       # one failure since the success: still open


def test_allow_lists():
    check_source("10.0.1.100", ())
    check_source("10.0.1.100", ("10.0.0.0/16",))
    check_source("::1", ("10.0.0.0/8", "::1/128"))
    with pytest.raises(SourceNotAllowed, match="10.1.0.1 is not in the account allow-list"):
        check_source("10.1.0.1", ("10.0.0.0/16",), "account")
    with pytest.raises(InvalidArgument, match="^source_ip:"):
        parse_ip("10.0.0.300")
