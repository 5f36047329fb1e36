import os
import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from uqo.security.certs import init_pki
from uqo.security.errors import InvalidArgument


def _cert(d, name):
    return x509.load_pem_x509_certificate((d / f"{name}.pem").read_bytes())


def test_issues_a_ca_and_leaves_that_chain_to_it(tmp_path):
    files = init_pki(tmp_path, hosts=["uqo.local", "10.0.0.5"], replicas=2, agents=["a-1"])
    assert sorted(os.path.basename(f) for f in files) == sorted(
        f"{n}.{e}" for n in ("ca", "server", "replica-1", "replica-2", "a-1")
        for e in ("pem", "key"))
    ca = _cert(tmp_path, "ca")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for name, usages in (("server", {ExtendedKeyUsageOID.SERVER_AUTH}),
                         ("replica-1", {ExtendedKeyUsageOID.SERVER_AUTH,
                                        ExtendedKeyUsageOID.CLIENT_AUTH}),
                         ("a-1", {ExtendedKeyUsageOID.CLIENT_AUTH})):
        cert = _cert(tmp_path, name)
        cert.verify_directly_issued_by(ca)
        assert set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == usages
        assert stat.S_IMODE(os.stat(tmp_path / f"{name}.key").st_mode) == 0o600
    san = _cert(tmp_path, "server").extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["uqo.local"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["uqo://server/server"]


def test_existing_files_are_kept_unless_forced(tmp_path):
    init_pki(tmp_path, replicas=0)
    before = (tmp_path / "ca.pem").read_bytes()
    with pytest.raises(InvalidArgument, match="^out: .*ca.pem exists"):
        init_pki(tmp_path, replicas=0)
    assert (tmp_path / "ca.pem").read_bytes() == before
    init_pki(tmp_path, replicas=0, force=True)
    assert (tmp_path / "ca.pem").read_bytes() != before


@pytest.mark.parametrize("kwargs, field", [
    ({"replicas": -1}, "replicas"), ({"replicas": True}, "replicas"), ({"hosts": []}, "hosts"),
    ({"agents": ["bad id"]}, "agents"), ({"days": 0}, "days"), ({"ca_days": 99999}, "ca_days")])
def test_bad_arguments_write_nothing(tmp_path, kwargs, field):
    with pytest.raises(InvalidArgument, match=f"^{field}:"):
        init_pki(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()
