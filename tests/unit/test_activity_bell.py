"""The activity bell: a ring wakes the poll that has waited longest, one per task; looks at the store are shared."""

from __future__ import annotations

from stateway.engine.activity_bell import ActivityBell

ARN = "arn:aws:states:us-east-1:123456789012:activity:review"


def _listening(bell: ActivityBell, woken: list[str], *names: str, arn: str = ARN, now: float = 0.0) -> dict:
    return {name: bell.listen(arn, lambda name=name: woken.append(name), now) for name in names}


def test_a_ring_wakes_the_poll_that_has_waited_longest_and_only_it() -> None:
    bell, woken = ActivityBell(), []
    polls = _listening(bell, woken, "first", "second", "third")
    bell.ring(ARN)
    assert woken == ["first"] and polls["first"].rung and not polls["second"].rung
    bell.ring(ARN)
    assert woken == ["first", "second"]
    bell.ring("arn:aws:states:us-east-1:123456789012:activity:other")  # nobody waits there
    assert woken == ["first", "second"]


def test_a_ring_with_nobody_waiting_is_dropped() -> None:
    bell, woken = ActivityBell(), []
    bell.ring(ARN)
    _listening(bell, woken, "late")
    assert woken == []  # a poll that comes later looks at the store first


def test_leave_says_whether_the_poll_was_rung() -> None:
    bell, woken = ActivityBell(), []
    polls = _listening(bell, woken, "first", "second")
    assert bell.leave(ARN, polls["second"]) is False
    bell.ring(ARN)
    assert bell.leave(ARN, polls["first"]) is True  # its caller passes the unused ring on
    bell.ring(ARN)
    assert woken == ["first"], "the poll that left is not rung"


def test_ring_all_wakes_every_poll() -> None:
    bell, woken = ActivityBell(), []
    _listening(bell, woken, "a", "b")
    _listening(bell, woken, "c", arn=ARN + "-2")
    bell.ring_all()
    assert sorted(woken) == ["a", "b", "c"]
    bell.ring(ARN)
    assert len(woken) == 3


def test_one_look_at_the_store_per_activity_per_interval() -> None:
    bell, woken = ActivityBell(look_seconds=5.0), []
    _listening(bell, woken, "a", "b", "c", now=100.0)  # each looked as it came
    assert [bell.look_due(ARN, 104.9) for _ in range(3)] == [False, False, False]
    assert [bell.look_due(ARN, 105.0) for _ in range(3)] == [True, False, False]
    _listening(bell, woken, "d", now=108.0)  # a new poll's first look counts too
    assert not bell.look_due(ARN, 110.5)
    assert bell.look_due(ARN, 113.0)
    assert not bell.look_due(ARN + "-none", 1000.0)  # no poll waits there
