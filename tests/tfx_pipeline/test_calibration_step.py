"""The pipeline's calibration settings and the Trainer's eval-split fit (no pipeline run needed)."""
import numpy as np
import pandas as pd
import pytest

from mtl_keras import names
from tfx_pipeline import calibration_step


def test_settings_get_defaults_and_bad_ones_name_the_key():
    assert calibration_step.check_settings(None, False) is None
    assert calibration_step.check_settings({}, False) == {"kind": "isotonic", "space": "impression", "min_rows": 100,
                                                         "min_positives": 10}
    with pytest.raises(ValueError, match="unknown keys \\['slice_field'\\].*calibrates globally"):
        calibration_step.check_settings({"slice_field": "site"}, False)
    with pytest.raises(ValueError, match="kind must be one of"):
        calibration_step.check_settings({"kind": "beta"}, False)
    with pytest.raises(ValueError, match="space 'request'.*win_weighting=True"):
        calibration_step.check_settings({"space": "request"}, False)
    assert calibration_step.check_settings({"space": "request"}, True)["space"] == "request"
    with pytest.raises(ValueError, match="min_rows must be an int >= 1"):
        calibration_step.check_settings({"min_rows": 0}, False)
    with pytest.raises(ValueError, match="must be a dict"):
        calibration_step.check_settings("isotonic", False)


def test_cross_fitted_report_scores_each_half_with_the_other_halfs_fit():
    rng = np.random.default_rng(0)
    n = 40000
    p_ctr = rng.uniform(0.05, 0.6, n)
    p_cvr = rng.uniform(0.05, 0.6, n)
    click = (rng.random(n) < 0.5 * p_ctr).astype(int)  # the model predicts CTR twice too high
    conversion = click * (rng.random(n) < p_cvr).astype(int)
    frame = pd.DataFrame({names.CLICK: click, names.CONVERSION: conversion, names.WON: 1})
    outputs = {names.P_CTR: p_ctr, names.P_CVR: p_cvr, names.P_CTCVR: p_ctr * p_cvr}
    settings = calibration_step.check_settings({"kind": "platt"}, False)
    calibration, report = calibration_step.fit(outputs, frame, settings)
    served = calibration.apply(outputs)
    assert served[names.P_CTR].mean() / click.mean() == pytest.approx(1.0, abs=0.03)
    for half in ("a", "b"):
        ctr = report["cross_fitted"][half][names.P_CTR]
        # About 3,000 clicks per half: the ratio's sampling sd is about 0.02.
        assert ctr["before"]["calibration_ratio"] == pytest.approx(2.0, rel=0.08)
        assert ctr["after"]["calibration_ratio"] == pytest.approx(1.0, abs=0.07)
        assert ctr["after"]["ece"] < ctr["before"]["ece"] / 2
    assert report["cross_fitted"]["a"][names.P_CTR]["count"] + report["cross_fitted"]["b"][names.P_CTR]["count"] == n


def test_the_report_carries_before_after_reliability_pngs_into_the_export(tmp_path):
    import json
    import os

    rng = np.random.default_rng(1)
    n = 8000
    p_ctr, p_cvr = rng.uniform(0.05, 0.6, n), rng.uniform(0.05, 0.6, n)
    click = (rng.random(n) < 0.5 * p_ctr).astype(int)
    frame = pd.DataFrame({names.CLICK: click, names.CONVERSION: click * (rng.random(n) < p_cvr), names.WON: 1})
    outputs = {names.P_CTR: p_ctr, names.P_CVR: p_cvr, names.P_CTCVR: p_ctr * p_cvr}
    _, report = calibration_step.fit(outputs, frame, calibration_step.check_settings({"kind": "platt"}, False))
    calibration_step.write_report(report, str(tmp_path))
    extra = tmp_path / "assets.extra"
    written = json.loads((extra / calibration_step.REPORT_FILE).read_text())
    assert calibration_step.PLOTS_KEY not in written
    for output in (names.P_CTR, names.P_CVR, names.P_CTCVR):
        name = written["cross_fitted"]["b"][output]["plot_file"]
        assert (extra / name).read_bytes()[:4] == b"\x89PNG" and os.path.getsize(extra / name) > 1000
