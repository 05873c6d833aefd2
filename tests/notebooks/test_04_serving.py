import json


def test_serving_notebook_exports_serves_and_answers_rest_and_grpc(run_notebook, outputs_of):
    notebook = run_notebook("04_serving.ipynb")
    text = "".join(o.get("text", "") for o in outputs_of(notebook, "stream"))
    # The export listing: a version directory with its warmup records.
    assert "tf_serving_warmup_requests" in text and "saved_model.pb" in text
    assert 'model_version_policy' in text and 'base_path' in text  # models.config
    assert "REST, gRPC and the Keras model agree" in text
    assert "lacks input(s)" in text and "(400, {'error'" in text  # a bad request is a 400 with a message
    # The final status: version 2 serving, version 1 unloaded.
    status = json.loads(text[text.rindex('{\n "model_version_status"'):].split("\n}\n")[0] + "\n}")
    assert [(s["version"], s["state"]) for s in status["model_version_status"]] == [("2", "AVAILABLE"), ("1", "END")]
