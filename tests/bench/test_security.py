"""The security benchmark's parts on tiny sizes (numbers are not asserted: only that they are
measured on real, verified logs and reported in the JSON shape the README quotes)."""

from uqo.bench.security import _fs_type, _rates, bench_audit


def test_bench_audit_measures_verified_logs(tmp_path):
    rows = bench_audit(str(tmp_path), n=20, repeats=1, every=[1, 10])
    assert [r["checkpoint_every"] for r in rows] == [1, 10]
    assert all(r["appends_per_s"] > 0 and r["appends"] == 20 and len(r["runs"]) == 1
               for r in rows)


def test_rates_and_fs_type(tmp_path):
    calls = []
    rates = _rates(lambda: calls.append(1), 10, 3)
    assert len(rates) == 3 and min(rates) > 0 and len(calls) == 30
    assert _fs_type(str(tmp_path)) != ""
