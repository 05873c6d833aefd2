import re


def test_win_propensity_notebook_runs_and_shows_table_plot_and_export(run_notebook, outputs_of):
    notebook = run_notebook("02_win_propensity.ipynb", timeout=600)
    html = " ".join(o["data"]["text/html"] for o in outputs_of(notebook, "execute_result") if "text/html" in o.get("data", {}))
    for kind in ("km", "km_segment", "cox", "weibull_aft", "lognormal_aft"):
        assert kind in html
    assert "c_index" in html and "p_win_mae" in html
    images = [o for o in outputs_of(notebook, "display_data") if "image/png" in o.get("data", {})]
    assert len(images) >= 1  # the bid landscape
    text = "".join(o.get("text", "") for o in outputs_of(notebook, "stream"))
    difference = float(re.search(r"max \|TF - numpy\| = ([0-9.eE+-]+)", text).group(1))
    assert difference < 1e-6
