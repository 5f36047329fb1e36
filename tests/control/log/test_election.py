"""The fenced election's pure core: who leads, when it campaigns, when it must stop."""

import pytest
from uqo.control.log.election import CANDIDATE, FOLLOWER, LEADER, ElectionCore, Holder


def _drain(core):
    ready = core.ready()
    core.advance()
    return ready


def _leader(core, token=10, head=5, now=0.0):
    core.start(None, now)
    assert _drain(core).grant
    core.lease_granted(now, 2)
    assert _drain(core).campaign and core.role == CANDIDATE
    core.won(token, head)
    return core


def test_start_without_leader_grants_then_campaigns():
    core = ElectionCore("r1", ttl_s=2)
    core.start(None, 0.0)
    ready = _drain(core)
    assert ready.grant and not ready.campaign          # no lease yet: no campaign
    core.lease_granted(0.0, 2)
    assert _drain(core).campaign


def test_no_campaign_while_someone_leads():
    core = ElectionCore("r1", ttl_s=2)
    core.start(Holder("r2", "http://b", 7), 0.0)
    core.lease_granted(0.0, 2)
    assert not _drain(core).campaign and core.role == FOLLOWER
    core.observed(None)                                 # the leader's key expired
    assert _drain(core).campaign


def test_leader_activates_only_after_applying_its_head():
    core = _leader(ElectionCore("r1", ttl_s=2), token=10, head=5)
    assert core.role == LEADER and not core.is_leader   # catching up: no proposals yet
    core.applied(4)
    assert not _drain(core).activate
    core.applied(5)
    assert _drain(core).activate and core.is_leader


def test_leader_stops_when_lease_may_have_expired():
    core = _leader(ElectionCore("r1", ttl_s=2, margin_s=0.1), head=0)
    core.applied(0)
    _drain(core)
    core.tick(1.0)
    assert core.is_leader
    core.tick(1.95)                                     # 2 s from the grant's send, less margin
    ready = _drain(core)
    assert ready.deactivate and not core.is_leader and core.role == FOLLOWER


def test_keepalives_extend_from_their_send_time():
    core = _leader(ElectionCore("r1", ttl_s=3, margin_s=0.0), head=0)
    core.applied(0)
    core.tick(1.0)
    assert _drain(core).keepalive
    core.keepalive_ok(1.0, 3)                           # answered: lease to 4.0
    core.tick(3.5)
    assert core.is_leader
    core.tick(4.0)
    assert not core.is_leader


def test_paused_leader_resumes_deposed():
    """SIGSTOP past the lease, then SIGCONT: the first tick after resuming stops it, before
    any proposal is taken."""
    core = _leader(ElectionCore("r1", ttl_s=2), head=0)
    core.applied(0)
    _drain(core)
    core.tick(30.0)
    assert _drain(core).deactivate and not core.is_leader


def test_fenced_append_and_taken_key_depose():
    for depose in (lambda c: c.fenced(10), lambda c: c.observed(Holder("r2", "u", 99)),
                   lambda c: c.observed(None)):
        core = _leader(ElectionCore("r1", ttl_s=2), token=10, head=0)
        core.applied(0)
        _drain(core)
        depose(core)
        assert _drain(core).deactivate and not core.is_leader


def test_own_key_seen_by_the_watch_keeps_leadership():
    core = _leader(ElectionCore("r1", ttl_s=2), token=10, head=0)
    core.applied(0)
    core.observed(Holder("r1", "http://a", 10))
    assert core.is_leader and core.holder.url == "http://a"


def test_lost_campaign_follows_the_winner():
    core = ElectionCore("r1", ttl_s=2)
    core.start(None, 0.0)
    core.lease_granted(0.0, 2)
    _drain(core)
    core.lost(Holder("r2", "http://b", 12))
    assert core.role == FOLLOWER and core.holder.replica_id == "r2"
    core.tick(0.1)
    assert not _drain(core).campaign


def test_lost_lease_asks_for_a_new_one_before_campaigning():
    core = ElectionCore("r1", ttl_s=2)
    core.start(Holder("r2", "u", 3), 0.0)
    core.lease_granted(0.0, 2)
    _drain(core)
    core.tick(5.0)
    assert _drain(core).grant and not core.has_lease


def test_bad_arguments():
    with pytest.raises(ValueError, match="replica_id"):
        ElectionCore("", 2)
    with pytest.raises(ValueError, match="ttl_s"):
        ElectionCore("r1", 0)


def test_a_late_fenced_answer_from_an_older_term_does_not_depose():
    """An append of our previous term answered after we won again says nothing about now."""
    core = _leader(ElectionCore("r1", ttl_s=2), token=10, head=0)
    core.applied(0)
    _drain(core)
    core.fenced(7)
    assert core.is_leader
    core.fenced(10)
    assert not core.is_leader


def test_stepping_down_gives_the_lease_up():
    """Our key may still exist after a step-down (fenced, resigned): the lease it hangs on is
    given up (revoked, then a new one granted), so others can campaign at once."""
    core = _leader(ElectionCore("r1", ttl_s=2), token=10, head=0)
    core.applied(0)
    _drain(core)
    core.fenced(10)
    ready = _drain(core)
    assert ready.deactivate and ready.grant and not core.has_lease
    core.lease_granted(1.0, 2)       # a new lease: it may campaign again, but leads only if it
    assert not core.is_leader        # wins a new term
    assert core.token == 0
