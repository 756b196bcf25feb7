"""Each pruner's decision rule on a hand-made history (no experiment, no workers)."""

from __future__ import annotations

import pytest

from retiarii.experiment import Hyperband, MedianStop, SuccessiveHalving


def test_median_stop_compares_the_best_so_far_with_the_median_of_completed_running_averages():
    pruner = MedianStop()
    # three completed trials; running averages at step 2: 1.5, 2.5, 3.5 -> median 2.5
    for trial, values in {1: [1, 2, 3], 2: [2, 3, 4], 3: [3, 4, 5]}.items():
        for step, value in enumerate(values, start=1):
            assert pruner.report(trial, step, value) is None  # nothing completed yet at step 1..
        pruner.end(trial, "SUCCEEDED")
    assert pruner.report(4, 1, 2.5) is None  # best 2.5 vs median of [1, 2, 3] = 2
    # step 2: best so far 2.5 vs the median of the averages 1.5, 2.5, 3.5: equal is not worse
    assert pruner.report(4, 2, 2.4) is None
    assert pruner.report(5, 1, 1.0) is not None  # 1.0 < median 2.0
    assert 5 in pruner.pruned
    assert pruner.report(5, 2, 9.0) is None  # an already-pruned trial is not decided again


def test_median_stop_ignores_unfinished_and_failed_trials_and_respects_start_step():
    pruner = MedianStop(start_step=2)
    pruner.report(1, 1, 10.0)
    pruner.report(1, 2, 10.0)
    pruner.end(1, "FAILED")  # failures do not count as completed
    pruner.report(2, 1, 10.0)  # still running
    assert pruner.report(3, 1, 0.0) is None  # no completed trial
    pruner.report(4, 1, 10.0)
    pruner.report(4, 2, 10.0)
    pruner.end(4, "SUCCEEDED")
    assert pruner.report(5, 1, 0.0) is None  # before start_step
    assert pruner.report(5, 2, 0.0) is not None


def test_median_stop_minimize_and_even_count_uses_the_lenient_median():
    pruner = MedianStop(optimize_mode="minimize")
    for trial, loss in ((1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)):
        pruner.report(trial, 1, loss)
        pruner.end(trial, "SUCCEEDED")
    assert pruner.report(5, 1, 3.0) is None  # lenient (upper) median of 1..4 is 3
    assert pruner.report(6, 1, 3.1) is not None


def test_successive_halving_keeps_the_top_third_at_each_rung():
    pruner = SuccessiveHalving(min_resource=1, reduction_factor=3)
    assert pruner.rung_steps(30) == [1, 3, 9, 27]
    assert pruner.report(1, 1, 0.5) is None  # alone: the best is always kept
    assert pruner.report(2, 1, 0.4) is not None  # 2 results: keep max(1, 2 // 3) = 1
    assert pruner.report(3, 1, 0.6) is None  # new best
    assert pruner.report(1, 2, 0.1) is None  # not a rung
    # rung 1 now holds 0.5, 0.4, 0.6 and 0.55: keep max(1, 4 // 3) = 1 -> 0.55 is pruned
    assert pruner.report(4, 1, 0.55) is not None
    # rung at step 3: trial 3 alone
    assert pruner.report(3, 3, 0.7) is None


def test_successive_halving_rate_and_max_resource_move_the_rungs():
    pruner = SuccessiveHalving(min_resource=2, reduction_factor=2, min_early_stopping_rate=1)
    assert pruner.rung_steps(20) == [4, 8, 16]
    capped = SuccessiveHalving(min_resource=1, reduction_factor=3, max_resource=9)
    assert capped.rung_steps(100) == [1, 3]  # no rung at max_resource: the trial is complete
    with pytest.raises(ValueError, match="reduction_factor"):
        SuccessiveHalving(reduction_factor=1)


def test_successive_halving_minimize():
    pruner = SuccessiveHalving(reduction_factor=2, optimize_mode="minimize")
    assert pruner.report(1, 1, 1.0) is None
    assert pruner.report(2, 1, 2.0) is not None  # keep 1 of 2: the lower loss
    assert pruner.report(3, 1, 0.5) is None


def test_hyperband_brackets_and_their_own_competition():
    pruner = Hyperband(min_resource=1, max_resource=9, reduction_factor=3)
    assert pruner.n_brackets == 3
    assert pruner.budgets == [9, 5, 3]  # ceil(3 * 3**(2-s) / (3-s))
    brackets = [pruner.bracket(t) for t in range(17)]
    assert brackets[:9] == [0] * 9 and brackets[9:14] == [1] * 5 and brackets[14:17] == [2] * 3
    assert pruner.bracket(17) == 0  # wraps around
    # bracket 0 prunes at step 1; bracket 1's first rung is step 3; bracket 2 has no rung below 9
    assert pruner.report(0, 1, 0.9) is None
    reason = pruner.report(1, 1, 0.1)
    assert reason is not None and reason.startswith("bracket 0")
    assert pruner.report(9, 1, 0.0) is None
    assert pruner.report(10, 3, 0.5) is None
    assert pruner.report(9, 3, 0.1) is not None  # only bracket 1 trials compete (10 beats 9)
    assert pruner.report(14, 3, 0.0) is None
