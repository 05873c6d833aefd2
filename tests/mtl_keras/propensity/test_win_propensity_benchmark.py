"""benchmarks/win_propensity.py end to end on small inputs."""
import json


def _run(tmp_path, *args):
    from benchmarks import win_propensity

    out = tmp_path / "b.json"
    assert win_propensity.main(["--out", str(out), *args]) == 0
    return json.loads(out.read_text())


def test_simulated_neural_fit(tmp_path):
    sim = _run(tmp_path, "--requests", "3000", "--holdout", "1000", "--max-epochs", "2")["simulated"]
    assert sim["fit"]["fit_rows"] == 3_000 and not sim["fit"]["subsampled"] and sim["fit"]["epochs"] <= 2
    assert 0 < sim["p_win_mae"] < 0.5 and sim["fit_wall_seconds"] > 0


def test_ipinyou_table_with_km_segment_before_and_after_the_fix(tmp_path, ipinyou_dir):
    report = _run(tmp_path, "--requests", "0", "--ipinyou", str(ipinyou_dir), "--models", "km,km_segment")
    models = report["ipinyou"]["models"]
    assert set(models) == {"km", "km_segment", "km_segment_before_fix"} and "simulated" not in report
    assert models["km_segment"]["anlp"] < models["km"]["anlp"] < models["km_segment_before_fix"]["anlp"]
    assert models["km_segment"]["segment"] == "field_15"
