from uqo.control.sim.scores import RunScores, percentiles


def test_percentiles_and_summary_on_hand_data():
    assert percentiles([1, 2, 3, 4, 5]) == {"p50": 3.0, "p95": 4.8, "p99": 4.96}
    assert percentiles([]) == {"p50": None, "p95": None, "p99": None}
    m = RunScores(3, bin_s=10.0)
    m.counts["arrived"] = 4
    m.finished(1.0, True, None)
    m.finished(12.0, False, "timeout")
    m.expired(13.0)
    m.decision(1.0, 0.002, 4)
    m.busy[:] = [1.0, 3.0, 0.0]
    s = m.summary(20.0)
    assert s["succeeded"] == 1 and s["failed"] == 1 and s["expired"] == 1
    assert abs(s["success_rate"] - 1 / 3) < 1e-12 and s["throughput_per_s"] == 0.05
    assert s["load_imbalance_max_over_mean"] == 1.5
    assert s["decision_us_per_task"]["p50"] == 500.0
    ser = m.series()
    assert ser["t"] == [0.0, 10.0] and ser["success_rate"] == [1.0, 0.0]
