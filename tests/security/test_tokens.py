import base64
import json

import pytest
from uqo.security.errors import TokenExpired, TokenInvalid, TokenRevoked
from uqo.security.levels import Role, SecurityLevel
from uqo.security.softkeys import SoftwareSigner
from uqo.security.tokens import RevocationList, TokenService
from uqo.security.users import User

USER = User("analyst-001", Role.ANALYST, SecurityLevel.TOP_SECRET, frozenset({"INTEL"}))


@pytest.fixture
def service(tmp_path, soft_signer, clock):
    return TokenService(soft_signer, RevocationList(tmp_path / "revoked.json", clock), 900.0,
                        clock)


def test_issue_and_verify(service, clock):
    cred = service.issue(USER, SecurityLevel.SECRET, "password+totp", "10.0.1.100")
    again = service.verify(cred.token)
    assert again == cred
    assert (again.user_id, again.role, again.clearance, again.level) == (
        "analyst-001", Role.ANALYST, SecurityLevel.TOP_SECRET, SecurityLevel.SECRET)
    assert again.compartments == frozenset({"INTEL"})
    assert again.expires_at == clock.now + 900
    assert cred.token not in repr(cred)


def test_expiry(service, clock):
    cred = service.issue(USER, SecurityLevel.SECRET, "password", None)
    clock.advance(899)
    service.verify(cred.token)
    clock.advance(1)
    with pytest.raises(TokenExpired):
        service.verify(cred.token)


def test_revocation_persists(service, tmp_path, soft_signer, clock):
    cred = service.issue(USER, SecurityLevel.SECRET, "password", None)
    service.revoke(cred)
    with pytest.raises(TokenRevoked):
        service.verify(cred.token)
    fresh = TokenService(soft_signer, RevocationList(tmp_path / "revoked.json", clock), 900,
                         clock)
    with pytest.raises(TokenRevoked):
        fresh.verify(cred.token)


def _reencode(token, **changes):
    prefix, body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(changes)
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return f"{prefix}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}.{sig}"


def test_edited_payloads_fail_the_signature(service):
    token = service.issue(USER, SecurityLevel.SECRET, "password", None).token
    for change in ({"lvl": 3}, {"sub": "admin"}, {"exp": 9e12}, {"cmp": ["INTEL", "SIGINT"]}):
        with pytest.raises(TokenInvalid, match="signature does not verify"):
            service.verify(_reencode(token, **change))


def test_a_token_from_another_key_is_refused(service, tmp_path, clock):
    other = SoftwareSigner.open(tmp_path / "other.json", b"other-passphrase")
    foreign = TokenService(other, RevocationList(None), 900, clock)
    with pytest.raises(TokenInvalid, match="unknown key"):
        service.verify(foreign.issue(USER, SecurityLevel.SECRET, "password", None).token)


def test_rotation_keeps_earlier_tokens_valid(service, soft_signer):
    before = service.issue(USER, SecurityLevel.SECRET, "password", None)
    soft_signer.rotate()
    after = service.issue(USER, SecurityLevel.SECRET, "password", None)
    assert service.verify(before.token) == before and service.verify(after.token) == after


def test_future_tokens_are_refused(service, clock):
    cred = service.issue(USER, SecurityLevel.SECRET, "password", None)
    clock.advance(-60)
    with pytest.raises(TokenInvalid, match="future"):
        service.verify(cred.token)


@pytest.mark.parametrize("token", [None, 42, "", "x" * 5000, "uqo1.a", "jwt.a.b", "uqo1.!!!.b",
                                   "uqo1." + base64.urlsafe_b64encode(b'{"exp":"x"}').decode()
                                   + ".c2ln"])
def test_malformed_tokens(service, token):
    with pytest.raises(TokenInvalid):
        service.verify(token)


def test_a_signed_but_malformed_payload_is_refused(service, soft_signer, clock):
    from uqo.security.tokens import DOMAIN, _b64

    body = json.dumps({"jti": "j", "sub": "s", "iat": clock.now, "exp": clock.now + 60,
                       "kid": soft_signer.key_id, "role": "emperor"}).encode()
    token = f"uqo1.{_b64(body)}.{_b64(soft_signer.sign(DOMAIN + body))}"
    with pytest.raises(TokenInvalid, match="malformed"):
        service.verify(token)
