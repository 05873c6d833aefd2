import numpy as np
import pandas as pd
import pytest

from mtl_keras import names
from mtl_keras.calibration import calibration_table, fit_multitask_calibration, reliability_plot
from mtl_keras.calibration.report import multitask_calibration_report


def test_calibration_table_by_hand():
    labels = [0, 1, 0, 1]
    before = [0.2, 0.2, 0.6, 0.6]
    after = [0.4, 0.4, 0.6, 0.6]
    table = calibration_table(before, after, labels, num_bins=1)
    assert table["count"] == 4 and table["positives"] == 2 and table["observed_rate"] == 0.5
    # One bin: ECE = |mean pred - mean label|; ratio = Σ pred / Σ label.
    assert table["before"]["ece"] == pytest.approx(0.1) and table["after"]["ece"] == pytest.approx(0.0)
    assert table["before"]["calibration_ratio"] == pytest.approx(1.6 / 2)
    assert table["after"]["calibration_ratio"] == pytest.approx(2.0 / 2)
    # Each score has one positive and one negative: AUC 1/2 before and after.
    assert table["before"]["auc"] == pytest.approx(0.5) and table["after"]["auc"] == pytest.approx(0.5)
    weighted = calibration_table(before, after, labels, weights=[1, 3, 1, 1], num_bins=1)
    # Weighted ratio: (0.2 + 0.6 + 0.6 + 0.6) / (3 + 1); weighted AUC: pos 0.6 (w 1) beats neg 0.2 (w 1),
    # ties count half: (3 * 0.5 * 1 + 1 * (1 + 0.5 * 1)) / (4 * 2) = 3 / 8.
    assert weighted["before"]["calibration_ratio"] == pytest.approx(2.0 / 4)
    assert weighted["before"]["auc"] == pytest.approx(3 / 8)


def test_reliability_plot_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    p = rng.uniform(size=500)
    labels = (rng.uniform(size=500) < p).astype(float)
    path = reliability_plot(str(tmp_path / "plots" / "r.png"), p ** 2, p, labels, num_bins=5, title="p_ctr")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_multitask_report_covers_the_served_funnel(tmp_path):
    rng = np.random.default_rng(1)
    n = 5000
    ctr, cvr = rng.uniform(0.05, 0.3, n), rng.uniform(0.1, 0.4, n)
    click = (rng.uniform(size=n) < ctr).astype(int)
    frame = pd.DataFrame({names.CLICK: click, names.CONVERSION: click * (rng.uniform(size=n) < cvr)})
    outputs = {names.P_CTR: 2 * ctr, names.P_CVR: 0.5 * cvr}
    calibration = fit_multitask_calibration(outputs, frame, kind="platt")
    report = multitask_calibration_report(calibration, outputs, frame, plot_dir=str(tmp_path))
    assert set(report) == {names.P_CTR, names.P_CVR, names.P_CTCVR}
    for output, table in report.items():
        assert table["after"]["ece"] < table["before"]["ece"], output
        assert (tmp_path / f"reliability_{output}.png").exists()
    assert report[names.P_CTR]["before"]["calibration_ratio"] == pytest.approx(2.0, rel=0.1)
    assert report[names.P_CTR]["after"]["calibration_ratio"] == pytest.approx(1.0, abs=1e-6)
