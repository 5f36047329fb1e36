from uqo.security.events import EventCounter


def test_counts_refusals_in_a_sliding_day(clock):
    events = EventCounter(clock=clock)
    events.seed([{"outcome": "failure", "ts": clock.now - 90000},
                 {"outcome": "denied", "ts": clock.now - 100},
                 {"outcome": "success", "ts": clock.now}])
    assert events.count() == 1
    events.add(clock.now)
    assert events.count() == 2
    clock.advance(86400 - 99)
    assert events.count() == 1
