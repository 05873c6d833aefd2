def test_calibration_notebook_runs_and_shows_before_after_plots(run_notebook, outputs_of):
    notebook = run_notebook("05_calibration.ipynb")
    images = [o for o in outputs_of(notebook) if "image/png" in o.get("data", {})]
    assert len(images) == 4  # p_ctr, p_cvr, p_ctcvr on the simulator, then the win model
    tables = [o["data"]["text/html"] for o in outputs_of(notebook) if "text/html" in o.get("data", {})]
    assert any("calibrated" in t and "cvr_calibration_ratio" in t for t in tables)
    assert any("ece after" in t for t in tables)
