"""Mean ± std over seeds and the seeds needed for a difference to exceed its std, by hand."""
import pytest

from benchmarks.bias.aggregate import aggregate, compare, mean_std, seeds_to_separate
from mtl_keras.ground_truth import METRIC_KEYS, SPACES, SPACE_REQUEST


def test_mean_std_uses_the_sample_std():
    assert mean_std([1.0, 2.0, 3.0]) == {"mean": 2.0, "std": 1.0}
    assert mean_std([0.7]) == {"mean": 0.7, "std": 0.0}
    assert mean_std([0.5, float("nan")]) == {"mean": None, "std": None}


def test_seeds_to_separate_unpaired_and_paired():
    # Clearly apart from the first two seeds on.
    assert seeds_to_separate([1.0, 1.1, 0.9], [0.0, 0.1, -0.1], paired=False) == 2
    # Means 0.5 apart, stds about 0.7: never separated unpaired; the paired difference is
    # always +0.5 (std 0), so paired it separates at 2 seeds.
    a, b = [0.5, 1.5, 0.5, 1.5], [0.0, 1.0, 0.0, 1.0]
    assert seeds_to_separate(a, b, paired=False) is None
    assert seeds_to_separate(a, b, paired=True) == 2
    # Apart with 2 seeds, not with 3 (a third seed overlaps), apart again with 4 and 5: the answer
    # is the first k from which it holds through the last seed.
    a, b = [1.0, 1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0, 0.0]
    assert [seeds_to_separate(a[:k], b[:k], paired=True) for k in (2, 3, 5)] == [2, None, None]
    assert seeds_to_separate([0.0], [1.0], paired=True) is None  # one seed has no std


def records(values_a, values_b, key="cvr_auc"):
    rows = []
    for method, values in (("esmm", values_a), ("naive", values_b)):
        for seed, value in enumerate(values):
            for space in SPACES:
                row = {k: 0.5 for k in METRIC_KEYS}
                rows.append({"seed": seed, "method": method, "space": space, "rows": 10, **row, key: value})
    return rows


def test_aggregate_has_every_method_space_and_metric():
    results = aggregate(records([0.6, 0.7], [0.5, 0.5]), "mmoe", ["naive", "esmm"])
    assert [(r["method"], r["space"]) for r in results] == [
        (m, s) for m in ("naive", "esmm") for s in SPACES]
    esmm = results[len(SPACES)]
    assert esmm["backbone"] == "mmoe" and esmm["seeds"] == 2
    assert esmm["cvr_auc"]["mean"] == pytest.approx(0.65)
    assert esmm["cvr_auc"]["std"] == pytest.approx(0.0707107, rel=1e-5)
    assert set(METRIC_KEYS) <= set(esmm)


def test_compare_knows_which_direction_is_better():
    higher_auc = compare(records([0.6, 0.62, 0.61], [0.5, 0.5, 0.52]), ["naive", "esmm"])
    auc = [c for c in higher_auc if c["metric"] == "cvr_auc" and c["space"] == SPACE_REQUEST][0]
    assert (auc["method"], auc["baseline"]) == ("esmm", "naive")
    assert auc["difference"]["mean"] == pytest.approx(0.1033333, rel=1e-5)
    assert auc["improves"] is True and auc["seeds_to_separate"] == 2
    higher_loss = compare(records([0.6, 0.62, 0.61], [0.5, 0.5, 0.52], key="cvr_log_loss"), ["naive", "esmm"])
    loss = [c for c in higher_loss if c["metric"] == "cvr_log_loss" and c["space"] == SPACE_REQUEST][0]
    assert loss["improves"] is False  # a higher log loss is worse
    assert compare(records([0.6], [0.5]), ["naive"]) == []  # the pair needs both methods
