"""The recent security events (``fw.recent_security_events``, behind GET /v1/security/events
and the status page's list): what the audit trail wrote with outcome failure or denied, newest
first, with a filtered detail, reloaded for the last 24 hours after a restart."""

import pytest
from uqo.security.auditing import RECENT_EVENTS
from uqo.security.errors import TokenInvalid
from uqo.security.framework import SecurityFramework

from .conftest import PASSWORD


async def test_recent_events_newest_first_filtered_and_reloaded(tmp_path, soft_signer, clock):
    fw = SecurityFramework.for_tests(tmp_path, soft_signer, clock=clock)
    fw.add_user("analyst-001", role="analyst", clearance="SECRET", password=PASSWORD,
                actor="admin")
    assert fw.recent_security_events(20) == []
    for i in range(3):
        clock.advance(1.0)
        await fw.authenticate_user(f"nobody-{i}", {"password": "wrong-wrong-wrong"}, "10.0.0.7")
    clock.advance(1.0)
    with pytest.raises(TokenInvalid):
        fw.verify_token("uqo1.bad.token")
    fw.close()                              # waits for the queued token-refusal record
    written = [r for r in fw.audit.records_since(0) if r["outcome"] in ("failure", "denied")]
    assert len(written) == 4

    fw = SecurityFramework.for_tests(tmp_path, soft_signer, clock=clock)   # reloaded
    events = fw.recent_security_events(20)
    assert [e["seq"] for e in events] == [r["seq"] for r in reversed(written)]
    assert [e["ts"] for e in events] == [r["ts"] for r in reversed(written)]
    assert events[0]["kind"] == "auth.token" and events[0]["subject"] is None
    login = events[1]
    assert (login["kind"], login["subject"], login["outcome"]) == ("auth.login", "nobody-2",
                                                                   "failure")
    assert login["detail"]["source"] == "10.0.0.7" and login["detail"]["code"]
    assert set(login["detail"]) <= {"code", "reason", "rule", "resource", "action", "source"}
    assert fw.recent_security_events(2) == events[:2]

    await fw.authorize_access({"user_id": "x"}, "tasks", "read")    # not a credential: denied
    newest = fw.recent_security_events(1)[0]
    assert newest["seq"] > events[0]["seq"] and newest["outcome"] == "denied"
    clock.advance(86401)
    fw.close()
    fw = SecurityFramework.for_tests(tmp_path, soft_signer, clock=clock)
    assert fw.recent_security_events(20) == []      # older than 24 h: not reloaded
    fw.close()


async def test_the_list_keeps_the_newest_only(tmp_path, soft_signer, clock):
    fw = SecurityFramework.for_tests(tmp_path, soft_signer, clock=clock)
    for i in range(RECENT_EVENTS + 5):
        fw.trail.record("auth.login", f"u{i}", "failure", {"code": "bad", "token_id": "t"})
    events = fw.recent_security_events(RECENT_EVENTS + 50)
    assert len(events) == RECENT_EVENTS
    assert events[0]["subject"] == f"u{RECENT_EVENTS + 4}" and events[-1]["subject"] == "u5"
    assert events[0]["detail"] == {"code": "bad"}                   # no token ids
    fw.close()
