"""Notebook 03 runs the tiny pipeline (sharing its workdir with tests/tfx_pipeline), lists MLMD artifacts
and shows TFMA results and the pushed model's scores."""


def test_pipeline_notebook_runs_and_shows_artifacts_metrics_and_scores(run_notebook, outputs_of, tmp_path_factory,
                                                                    monkeypatch):
    # The same directory as tests/tfx_pipeline's tiny run: whichever runs second hits the cache.
    monkeypatch.setenv("MTL_ADS_PIPELINE_WORKDIR", str(tmp_path_factory.getbasetemp() / "tiny_pipeline"))
    notebook = run_notebook("03_tfx_pipeline.ipynb", timeout=1200)
    text = "".join(o.get("text", "") for o in outputs_of(notebook, "stream"))
    assert "blessed: True" in text
    assert "pushed model: " in text and "nothing pushed" not in text
    html = " ".join(o["data"]["text/html"] for o in outputs_of(notebook, "execute_result") if "text/html" in o.get("data", {}))
    for artifact_type in ("Examples", "Schema", "ExampleAnomalies", "TransformGraph", "Model", "ModelEvaluation",
                          "ModelBlessing", "PushedModel", "mtl_ads.WinModel"):
        assert artifact_type in html
    assert "binary_crossentropy" in html and "p_ctcvr" in html
    images = [o for o in outputs_of(notebook, "display_data") if "image/png" in o.get("data", {})]
    assert len(images) == 1  # the three calibration panels
