"""``failure_domains`` (the ``/v1/status`` section): per-domain counts and pair MI, the
``limit`` domains with the highest mean MI, ties broken by name, counted over all domains."""
from types import SimpleNamespace

import numpy as np
from uqo.control.leader.status import failure_domains


def _sched(domains, up, partner, site, eng, mi, names):
    table = SimpleNamespace(active=np.ones(len(domains), bool), domain=np.array(domains),
                            up=np.array(up, float), domain_ids=names)
    link = SimpleNamespace(partner=np.array(partner), site=np.array(site), eng=np.array(eng))
    register = SimpleNamespace(pair_mutual_information=lambda: np.array(mi))
    return SimpleNamespace(table=table, link=link, register=register)


def test_rows_order_and_limit():
    rng = np.random.default_rng(3)
    n_dom, per = 30, 4
    names = {f"d{i:02d}": i for i in range(n_dom)}
    domains, partner, site, eng = [], [], [], []
    mi = rng.uniform(0, 0.5, size=n_dom * per // 2)
    mi[[0, 2]] = 0.7                          # d00 and d01 carry the same mean MI: a tie
    mi[[1, 3]] = 0.7
    for d in range(n_dom):
        for k in range(per):
            slot = d * per + k
            domains.append(d)
            partner.append(slot + 1 if k % 2 == 0 else slot - 1)
            site.append(k % 2)
            eng.append(slot // 2)
    up = [1.0] * (n_dom * per)
    up[0] = 0.0
    out = failure_domains(_sched(domains, up, partner, site, eng, mi, names), limit=5)
    assert out["count"] == n_dom
    rows = out["domains"]
    assert len(rows) == 5
    means = [r["mean_pair_mutual_information"] for r in rows]
    assert means == sorted(means, reverse=True)
    expected = sorted((-mi[2 * d:2 * d + 2].mean(), f"d{d:02d}") for d in range(n_dom))[:5]
    assert [r["domain"] for r in rows] == [name for _, name in expected]
    assert rows[0]["domain"] == "d00" and rows[1]["domain"] == "d01"      # tie: by name
    assert rows[0]["agents"] == per and rows[0]["agents_up"] == per - 1 and rows[0]["pairs"] == 2
    assert np.isclose(rows[0]["max_pair_mutual_information"], 0.7)
