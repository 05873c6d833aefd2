"""write_model_card on the tiny pipeline's pushed models: every field filled from the run's facts."""
import json
import os

import pytest

from mtl_keras import names
from tfx_pipeline import run_summary
from tfx_pipeline.model_card import CARD_FILE, SCHEMA_VERSION, write_model_card
from tfx_pipeline.presets import tiny_simulation
from tfx_pipeline.report import figures

# The top-level properties of model-card-toolkit's JSON schema (v0.0.2 allows no other).
MCT_FIELDS = {"schema_version", "model_details", "model_parameters", "quantitative_analysis", "considerations"}


def _empty_fields(value, path="card"):
    """Paths of every None, empty string, empty list or empty dict in the card."""
    if value is None or value == "" or value == [] or value == {}:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _empty_fields(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _empty_fields(v, f"{path}[{i}]")]
    return []


def _metrics(card):
    return {(m["type"], m["slice"]): m for m in card["quantitative_analysis"]["performance_metrics"]}


def _first_version(workdir, run_ids):
    from ml_metadata import metadata_store
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(workdir.metadata_path))
    context = store.get_context_by_type_and_name("pipeline_run", run_ids[0])
    pushed = [a for a in store.get_artifacts_by_context(context.id) if a.type == "PushedModel"]
    return pushed[0].custom_properties["pushed_version"].string_value


@pytest.fixture(scope="module")
def card(tiny_runs):
    workdir, run_ids = tiny_runs
    path = write_model_card(workdir.pipeline_root)
    with open(path, encoding="utf-8") as f:
        return workdir, run_ids, path, json.load(f)


def test_the_card_goes_into_the_pushed_version(card):
    workdir, _, path, content = card
    pushed = run_summary.pushed_model_path(workdir.metadata_path)
    assert path == os.path.join(pushed, "assets.extra", CARD_FILE)
    assert content["model_details"]["version"]["name"] == os.path.basename(pushed)


def test_every_field_is_filled_with_mct_names(card):
    _, run_ids, _, content = card
    assert set(content) == MCT_FIELDS and content["schema_version"] == SCHEMA_VERSION
    assert _empty_fields(content) == []
    details = content["model_details"]
    assert {"name", "overview", "documentation", "version", "references"} <= set(details)
    assert run_ids[-1] in details["overview"]
    assert set(content["model_parameters"]) == {"model_architecture", "data", "input_format", "output_format"}
    assert set(content["considerations"]) == {"users", "use_cases", "limitations", "tradeoffs",
                                              "ethical_considerations"}
    for metric in content["quantitative_analysis"]["performance_metrics"]:
        assert isinstance(metric["value"], float) and metric["type"] and metric["slice"]


def test_data_and_model_come_from_the_run(card):
    workdir, _, _, content = card
    parameters = content["model_parameters"]
    architecture = parameters["model_architecture"]
    assert "backbone shared_bottom" in architecture and "objective esmm" in architecture
    assert "floor 0.05" in architecture and "platt calibration" in architecture
    data = {d["name"]: d for d in parameters["data"]}
    assert set(data) == {"train", "eval"}
    rows = [int(d["description"].split(" requests")[0]) for d in data.values()]
    assert sum(rows) == tiny_simulation().num_requests
    assert all("schema.pbtxt" in d["description"] and d["link"].startswith("file://") for d in data.values())
    assert "_uncalibrated" in parameters["output_format"]


def test_metrics_calibration_win_model_and_blessing(card):
    workdir, run_ids, _, content = card
    metrics = _metrics(content)
    evaluation = run_summary.latest_artifact_uri(workdir.metadata_path, "ModelEvaluation", run_ids[-1])
    for output, values in run_summary.task_metrics(evaluation).items():
        assert metrics[(f"{output} auc", "overall")]["value"] == pytest.approx(values["auc"])
    assert "p_ctr auc >= 0.5" in metrics[("p_ctr auc", "overall")]["threshold"]
    for output in names.PREDICTION_KEYS:
        assert any(t == f"{output} ece before calibration" for t, _ in metrics)
        assert any(t == f"{output} ece after calibration" for t, _ in metrics)
    win_auc = next(m for (t, _), m in metrics.items() if t == "p_win auc")
    assert 0.5 < win_auc["value"] <= 1.0
    assert next(m for (t, _), m in metrics.items() if t == "win model fit rows")["value"] > 0
    blessed = metrics[("blessed", "overall")]
    assert blessed["value"] == 1.0 and "change vs the latest blessed model >= -0.05" in blessed["threshold"]
    graphics = content["quantitative_analysis"]["graphics"]["collection"]
    assert [g["name"] for g in graphics] == [f"reliability {o}" for o in names.PREDICTION_KEYS]
    for graphic in graphics:
        assert figures.decode_data_uri("data:image/png;base64," + graphic["image"]) is not None


def test_limitations_state_the_selection_assumptions(card):
    content = card[3]
    text = " ".join(item["description"] for item in content["considerations"]["limitations"])
    assert "ignorable given the features and the bid" in text
    assert "Positivity / overlap: p_win is floored at 0.05" in text and "of eval requests are under it" in text


def test_a_chosen_version_and_bad_versions(card, tmp_path):
    workdir, run_ids, _, _ = card
    first = _first_version(workdir, run_ids)
    path = write_model_card(workdir.metadata_path, model_version=first, out_path=str(tmp_path / "first.json"))
    with open(path, encoding="utf-8") as f:
        content = json.load(f)
    assert content["model_details"]["version"]["name"] == first
    assert "no baseline" in content["model_details"]["version"]["diff"]  # the first blessed model
    with pytest.raises(ValueError, match="model_version 'nope'"):
        write_model_card(workdir.metadata_path, model_version="nope")
    with pytest.raises(ValueError, match="`out_path` must be a .json file"):
        write_model_card(workdir.metadata_path, out_path=str(tmp_path / "card.txt"))
