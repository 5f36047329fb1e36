import pytest
from uqo.security.auditfile import Anchor, encode_record, read_keys, split_line
from uqo.security.errors import AuditError
from uqo.security.merkle import leaf_hash


def test_record_lines_carry_their_leaf_hash():
    leaf, line = encode_record({"seq": 0, "b": 1, "a": 2})
    assert line == leaf.hex().encode() + b' {"a":2,"b":1,"seq":0}\n'
    assert split_line(line[:-1]) == (leaf, b'{"a":2,"b":1,"seq":0}')
    assert leaf == leaf_hash(b'{"a":2,"b":1,"seq":0}')


@pytest.mark.parametrize("line", [b"", b"abc {}", b"A" * 64 + b" {}", b"zz" * 32 + b" {}"])
def test_malformed_lines(line):
    with pytest.raises(ValueError):
        split_line(line)


def test_anchor_round_trip_and_damage():
    a = Anchor(5, [b"\x01" * 32, b"\x02" * 32])
    assert Anchor.parse(a.line().rstrip(b"\n")) == a
    for bad in (b'anchor {"size": 0, "nodes": []}', b"anchor {", (b'anchor {"size": 1, '
                b'"nodes": ["00"]}')):
        with pytest.raises(AuditError, match="malformed anchor"):
            Anchor.parse(bad)


def test_unreadable_keys_file(tmp_path):
    assert read_keys(str(tmp_path / "none.json")) == {}
    (tmp_path / "keys.json").write_text("[]")
    with pytest.raises(AuditError, match="cannot read"):
        read_keys(str(tmp_path / "keys.json"))
