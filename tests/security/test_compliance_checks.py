from uqo.security.certs import init_pki
from uqo.security.compliance_checks import certificate_evidence, policy_self_test


def test_policy_self_test_matches_bell_lapadula():
    cases = policy_self_test()
    assert len(cases) >= 9 and all(c["as_expected"] for c in cases)
    assert {c["allowed"] for c in cases} == {True, False}


def test_certificate_evidence_from_real_handshakes(pki):
    ev = certificate_evidence(pki)
    assert ev["server_status"] == "pass" and ev["agents_status"] == "pass"
    assert ev["server"] == {"server_chains_to_ca": True, "server_min_version": "TLSv1_3",
                            "client_cert_required": True, "no_client_cert_refused": True,
                            "tls12_client_refused": True, "mutual_tls_version": "TLSv1.3"}


def test_a_certificate_from_another_ca_fails(tmp_path):
    init_pki(tmp_path / "a", replicas=0)
    init_pki(tmp_path / "b", replicas=0)
    (tmp_path / "a" / "agent-1.pem").write_bytes((tmp_path / "b" / "agent-1.pem").read_bytes())
    (tmp_path / "a" / "agent-1.key").write_bytes((tmp_path / "b" / "agent-1.key").read_bytes())
    ev = certificate_evidence(tmp_path / "a")
    assert ev["agents_status"] == "fail" and ev["server_status"] == "fail"


def test_no_directory_means_not_checked(tmp_path):
    assert certificate_evidence(None)["server_status"] == "not_checked"
    ev = certificate_evidence(tmp_path)  # empty: files missing
    assert ev["server_status"] == "fail" and "FileNotFoundError" in ev["server"]["error"]
