import pytest
from uqo.control.sim.config import SimConfig


@pytest.mark.parametrize("kwargs, needle", [
    ({"agents": 0}, "agents"), ({"rate": -1.0}, "rate"), ({"arrivals": "zipf"}, "'zipf'"),
    ({"flaky": 1.5}, "flaky"), ({"domain_size": 1}, "domain_size"), ({"agents": 2.5}, "agents"),
    ({"dt": 10.0, "duration_s": 5.0}, "dt"), ({"duration_s": float("nan")}, "duration_s"),
])
def test_bad_parameters_name_themselves(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        SimConfig(**kwargs)


def test_zero_is_allowed_where_it_means_none():
    cfg = SimConfig(flaky=0.0, heartbeat_loss=0.0, in_domains=0.0, seed=0)
    assert cfg.flaky == 0.0
