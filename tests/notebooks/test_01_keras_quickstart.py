def test_quickstart_runs_top_to_bottom_and_draws_its_plots(run_notebook, outputs_of):
    notebook = run_notebook("01_keras_quickstart.ipynb")
    images = [o for o in outputs_of(notebook, "display_data") if "image/png" in o.get("data", {})]
    assert len(images) == 2  # reliability diagram and gate usage
    tables = [o for o in outputs_of(notebook, "execute_result") if "text/html" in o.get("data", {})]
    assert any("calibration_ratio" in o["data"]["text/html"] for o in tables)
