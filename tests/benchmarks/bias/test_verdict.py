"""Paired 95 % intervals, the verdict table and the goals, checked by hand."""
import pytest

from benchmarks.bias.aggregate import paired, paired_interval
from mtl_keras.ground_truth import METRIC_KEYS, SPACES, SPACE_REQUEST
from benchmarks.bias.verdict import goals, verdict


def test_paired_interval_is_the_student_t_interval():
    # Differences 1, 2, 3: mean 2, sd 1, t(0.975, 2) = 4.302653: half width 4.302653 / sqrt(3) = 2.484138.
    interval = paired_interval([1.0, 2.0, 3.0])
    assert interval["mean"] == 2.0
    assert interval["low"] == pytest.approx(2.0 - 2.484138, rel=1e-6)
    assert interval["high"] == pytest.approx(2.0 + 2.484138, rel=1e-6)
    assert interval["excludes_zero"] is False
    assert paired_interval([1.0, 1.1, 0.9, 1.0])["excludes_zero"] is True
    assert paired_interval([0.5]) == {"mean": 0.5, "low": None, "high": None, "excludes_zero": False}


def rows(values, key):
    """values: {method: [per-run value]} over worlds 0/1 × seeds 0/1; other metrics 0.5."""
    out = []
    for method, per_run in values.items():
        for i, value in enumerate(per_run):
            for space in SPACES:
                out.append({"world": i // 2, "seed": i % 2, "method": method, "space": space, "rows": 1,
                            **{k: 0.5 for k in METRIC_KEYS}, "cvr_ratio_error": 0.5, key: value})
    return out


def test_paired_matches_runs_by_world_and_seed():
    data = rows({"esmm": [1, 2, 3, 4], "ipw": [10, 20, 30]}, "cvr_auc")
    assert paired(data, "ipw", "esmm", SPACE_REQUEST, "cvr_auc") == ([10, 20, 30], [1, 2, 3])


def test_verdict_picks_the_best_and_tests_it_against_esmm():
    data = rows({"esmm": [0.20, 0.22, 0.18, 0.20], "ipw_escm2_ips": [0.05, 0.06, 0.04, 0.05],
                 "naive": [0.30, 0.10, 0.30, 0.50]}, "cvr_ratio_error")
    table = verdict(data, ["naive", "esmm", "ipw_escm2_ips"], "observables")
    row = next(v for v in table if (v["space"], v["metric"]) == (SPACE_REQUEST, "cvr_ratio_error"))
    assert row["best"] == "ipw_escm2_ips" and row["best_mean"] == pytest.approx(0.05)
    assert row["baseline_mean"] == pytest.approx(0.20)
    assert row["difference"]["mean"] == pytest.approx(-0.15) and row["difference"]["excludes_zero"] is True
    # Higher AUC is better; a tie in means is resolved by order and ESMM best has no difference.
    data = rows({"esmm": [0.8, 0.8, 0.8, 0.8], "naive": [0.7, 0.7, 0.7, 0.7]}, "ctcvr_auc")
    row = next(v for v in verdict(data, ["naive", "esmm"], "x") if v["metric"] == "ctcvr_auc")
    assert row["best"] == "esmm" and row["difference"] is None


def test_goals_report_what_was_measured():
    data = rows({"esmm": [0.20, 0.22, 0.18, 0.20], "ipw_escm2_ips": [0.05, 0.06, 0.04, 0.05],
                 "oracle_ipw_escm2_ips": [0.0] * 4}, "cvr_ratio_error")
    for r in data:
        r["cvr_calibration_ratio"] = 1.0 + (0.03 if r["method"] == "oracle_ipw_escm2_ips" else 0.2)
        r["ctcvr_auc"] = 0.80 if r["method"] == "esmm" else 0.79
    by = {(g["method"], g["goal"].split()[0]): g for g in goals(data, ["esmm", "ipw_escm2_ips", "oracle_ipw_escm2_ips"])}
    assert by[("oracle_ipw_escm2_ips", "request-space")]["met"] is True
    assert by[("oracle_ipw_escm2_ips", "request-space")]["measured"] == pytest.approx(1.03)
    half = by[("ipw_escm2_ips", "|CVR")]
    assert half["measured"] == pytest.approx(0.05) and half["baseline"] == pytest.approx(0.20) and half["met"] is True
    auc = by[("ipw_escm2_ips", "CTCVR")]
    assert auc["measured"] == pytest.approx(-0.01) and auc["met"] is False  # lost 0.01 > 0.005
