"""compile-vertex writes a PipelineJob JSON with the whole DAG, Dataflow Beam args and a multi-worker Trainer."""
import json

import pytest

from mtl_keras.cli import main
from mtl_keras.simulation import feature_spec
from tfx_pipeline import beam_runners, vertex
from tfx_pipeline.presets import tiny_model_config, tiny_simulation

IMAGE = "gcr.io/proj/mtl-ads:1"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vertex")
    config = tiny_model_config(feature_spec(tiny_simulation(), embedding_dim=4))
    (tmp / "model.json").write_text(config.to_json())
    out = tmp / "pipeline.json"
    code = main(["pipeline", "compile-vertex", "--out", str(out), "--data", "gs://b/data", "--pipeline-root",
                 "gs://b/root", "--serving-dir", "gs://b/serving", "--model-config", str(tmp / "model.json"),
                 "--project", "proj", "--region", "europe-west4", "--image", IMAGE, "--dataflow-temp", "gs://b/tmp",
                 "--train-workers", "3", "--eval-ipw"])
    assert code == 0
    return json.loads(out.read_text())


def test_dag_has_every_component_in_order(compiled):
    tasks = compiled["pipelineSpec"]["root"]["dag"]["tasks"]
    deps = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
    assert {"ExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "DataValidationGate", "WinPropensity",
            "Transform", "Trainer", "Evaluator", "Pusher"} <= set(tasks)
    assert deps["WinPropensity"] >= {"DataValidationGate", "ExampleGen"}
    assert deps["DataValidationGate"] >= {"ExampleValidator"}
    assert deps["Transform"] == {"WinPropensity"}
    assert deps["Trainer"] >= {"Transform"}
    assert deps["Evaluator"] >= {"Trainer", "WinPropensity"}
    assert deps["Pusher"] >= {"Evaluator", "Trainer"}
    assert compiled["runtimeConfig"]["gcsOutputDirectory"] == "gs://b/root"


def test_beam_components_run_on_dataflow_in_the_image(compiled):
    executors = compiled["pipelineSpec"]["deploymentSpec"]["executors"]
    for name in ("StatisticsGen_executor", "Transform_executor", "Evaluator_executor", "WinPropensity_executor"):
        container = executors[name]["container"]
        assert container["image"] == IMAGE
        assert "--runner=DataflowRunner" in container["args"]
        assert "--region=europe-west4" in container["args"] and "--temp_location=gs://b/tmp" in container["args"]
        # Dataflow's workers run the same image (WinPropensity's DoFn imports this package there).
        assert f"--sdk_container_image={IMAGE}" in container["args"] and "--experiments=use_runner_v2" in container["args"]
    assert "tfx.components.transform.executor.Executor" in executors["Transform_executor"]["container"]["args"]


def test_trainer_runs_run_fn_as_a_three_replica_vertex_job(compiled):
    params = compiled["pipelineSpec"]["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]
    text = json.dumps(params)
    assert "tfx_pipeline.trainer.run_fn" in text
    custom = json.loads(params["custom_config"]["runtimeValue"]["constantValue"]["stringValue"])
    assert custom["ai_platform_enable_vertex"] is True
    pools = custom["ai_platform_training_args"]["worker_pool_specs"]
    assert [p["replica_count"] for p in pools] == [1, 2]
    assert custom["model_config"]["backbone"]["name"] == "shared_bottom"
    transform = compiled["pipelineSpec"]["root"]["dag"]["tasks"]["Transform"]["inputs"]["parameters"]
    assert "transform.preprocessing.preprocessing_fn" in json.dumps(transform)
    assert "module_file" not in transform  # import paths only: no wheel built, no pip needed


def test_worker_pool_and_dataflow_argument_errors():
    with pytest.raises(ValueError, match="num_workers"):
        vertex.worker_pool_specs(IMAGE, 0)
    with pytest.raises(ValueError, match="num_workers >= 2"):
        vertex.worker_pool_specs(IMAGE, 1, num_parameter_servers=1)
    with pytest.raises(ValueError, match="--temp-location"):
        beam_runners.dataflow_args("p", "r", "")
    assert [p["replica_count"] for p in vertex.worker_pool_specs(IMAGE, 4, num_parameter_servers=2)] == [1, 3, 2]


def test_cli_without_feature_spec_fails_with_the_fix(tmp_path, capsys):
    code = main(["pipeline", "run", "--data", str(tmp_path), "--pipeline-root", str(tmp_path / "r"),
                 "--serving-dir", str(tmp_path / "s")])
    assert code == 2
    assert "--feature-spec or --model-config" in capsys.readouterr().err
