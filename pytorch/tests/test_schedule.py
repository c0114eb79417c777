"""The learning-rate schedules: the reference's poly, and the campaign's extendable wsd."""

import pytest

from add_torch import schedule


def test_poly_is_the_reference_formula():
    s = schedule.make("poly", 0.05, 100, 0)
    assert schedule.lr_at(s, 0) == 0.05
    assert abs(schedule.lr_at(s, 50) - 0.05 * 0.5 ** 0.9) < 1e-12
    assert schedule.lr_at(s, 100) == 0.0
    assert schedule.end_step(s, 100) == 100


def test_wsd_warms_up_then_stays_until_a_decay_is_branched():
    s = schedule.make("wsd", 0.05, 10, warmup=4)
    assert [schedule.lr_at(s, i) for i in range(4)] == pytest.approx([0.0125, 0.025, 0.0375, 0.05])
    assert schedule.lr_at(s, 10_000) == 0.05, "a stable run can be extended indefinitely"
    assert schedule.end_step(s, 10) is None
    d = schedule.branch_decay(s, 100, 10)
    assert schedule.lr_at(d, 99) == 0.05 and schedule.lr_at(d, 100) == 0.05
    assert schedule.lr_at(d, 105) == pytest.approx(0.05 * 0.5 ** 0.9)
    assert schedule.lr_at(d, 110) == 0.0
    assert schedule.end_step(d, 10) == 110
    assert s["decay_from"] is None, "the stable schedule is left as it was"


def test_a_decay_is_refused_where_it_makes_no_sense():
    with pytest.raises(SystemExit, match="only be branched off a wsd"):
        schedule.branch_decay(schedule.make("poly", 0.05, 10), 5, 3)
    d = schedule.branch_decay(schedule.make("wsd", 0.05, 10, 1), 5, 3)
    with pytest.raises(SystemExit, match="already decays from step 5"):
        schedule.branch_decay(d, 6, 3)
    with pytest.raises(SystemExit, match="at least 1"):
        schedule.branch_decay(schedule.make("wsd", 0.05, 10, 1), 5, 0)
