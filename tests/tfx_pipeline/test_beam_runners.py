"""Dataflow, Flink and Spark Beam arguments: compiled into every Beam component's executor spec the
way the local and Vertex runners read them, resolved by Beam to the intended runner and options,
and refused with the fix when wrong."""
import pytest

import mtl_keras  # noqa: F401
from mtl_keras.simulation import feature_spec
from tfx_pipeline import beam_runners
from tfx_pipeline import pipeline as p
from tfx_pipeline.presets import tiny_model_config, tiny_simulation

BEAM_COMPONENTS = {p.EXAMPLE_GEN, p.STATISTICS_GEN, p.WIN_PROPENSITY, p.TRANSFORM, p.EVALUATOR}


def _config():
    return tiny_model_config(feature_spec(tiny_simulation(), embedding_dim=4))


def _compiled_beam_args(tmp_path, beam_pipeline_args, **kwargs):
    """{component id: the Beam arguments its executor gets} from the compiled pipeline IR."""
    from tfx.dsl.compiler import compiler
    from tfx.proto.orchestration import executable_spec_pb2, pipeline_pb2

    pipeline = p.create_pipeline("beam", str(tmp_path / "root"), str(tmp_path / "data"), str(tmp_path / "serving"),
                                 _config(), beam_pipeline_args=beam_pipeline_args, **kwargs)
    deployment = pipeline_pb2.IntermediateDeploymentConfig()
    compiler.Compiler().compile(pipeline).deployment_config.Unpack(deployment)
    out = {}
    for component, spec in deployment.executor_specs.items():
        beam_spec = executable_spec_pb2.BeamExecutableSpec()
        if spec.Unpack(beam_spec):
            out[component] = list(beam_spec.beam_pipeline_args)
    return out


def _beam_pipeline(args):
    """The pipeline a TFX Beam executor makes from its arguments (BaseBeamExecutor._make_beam_pipeline)."""
    import apache_beam as beam

    return beam.Pipeline(argv=list(args))


def test_flink_arguments_reach_every_beam_component_and_resolve_to_the_flink_runner(tmp_path):
    from apache_beam.options.pipeline_options import FlinkRunnerOptions, PortableOptions
    from apache_beam.runners.portability.flink_runner import FlinkRunner

    args = beam_runners.flink_args("flink-jobmanager:8081", "EXTERNAL", "localhost:50000", parallelism=8)
    compiled = _compiled_beam_args(tmp_path, args)
    assert set(compiled) == BEAM_COMPONENTS
    for component, component_args in compiled.items():
        beam_pipeline = _beam_pipeline(component_args)
        assert isinstance(beam_pipeline.runner, FlinkRunner), component
        flink = beam_pipeline.options.view_as(FlinkRunnerOptions)
        assert (flink.flink_master, flink.parallelism) == ("flink-jobmanager:8081", 8)
        portable = beam_pipeline.options.view_as(PortableOptions)
        assert (portable.environment_type, portable.environment_config) == ("EXTERNAL", "localhost:50000")


def test_spark_for_one_component_the_direct_runner_for_the_rest(tmp_path):
    from apache_beam.options.pipeline_options import SparkRunnerOptions
    from apache_beam.runners.direct.direct_runner import SwitchingDirectRunner
    from apache_beam.runners.portability.spark_runner import SparkRunner

    spark = beam_runners.spark_args("spark://spark-master:7077", "DOCKER", "gcr.io/p/mtl-ads:1")
    compiled = _compiled_beam_args(tmp_path, p.beam_args(), component_beam_args={p.TRANSFORM: spark})
    transform = _beam_pipeline(compiled[p.TRANSFORM])
    assert isinstance(transform.runner, SparkRunner)
    assert transform.options.view_as(SparkRunnerOptions).spark_master_url == "spark://spark-master:7077"
    assert all(isinstance(_beam_pipeline(compiled[c]).runner, SwitchingDirectRunner) for c in BEAM_COMPONENTS - {p.TRANSFORM})


def test_dataflow_arguments_carry_the_worker_image_and_resolve_to_dataflow(tmp_path):
    from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, StandardOptions, WorkerOptions
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner
    from apache_beam.runners.runner import create_runner

    args = beam_runners.dataflow_args("proj", "europe-west4", "gs://b/tmp", image="gcr.io/proj/mtl-ads:1",
                                      max_num_workers=20, machine_type="n2-standard-4")
    compiled = _compiled_beam_args(tmp_path, args)
    # Options as the executor parses them (beam.Pipeline itself would contact GCS to check the bucket).
    options = PipelineOptions(compiled[p.WIN_PROPENSITY])
    assert isinstance(create_runner(options.view_as(StandardOptions).runner), DataflowRunner)
    cloud, worker = options.view_as(GoogleCloudOptions), options.view_as(WorkerOptions)
    assert (cloud.project, cloud.region, cloud.temp_location) == ("proj", "europe-west4", "gs://b/tmp")
    assert (worker.sdk_container_image, worker.max_num_workers, worker.machine_type) == \
        ("gcr.io/proj/mtl-ads:1", 20, "n2-standard-4")
    assert "--experiments=use_runner_v2" in compiled[p.WIN_PROPENSITY]


@pytest.mark.parametrize("make, message", [
    (lambda: beam_runners.flink_args("jobmanager"), "HOST:PORT"),
    (lambda: beam_runners.flink_args("jm:8081", "DOCKER"), "environment_config"),
    (lambda: beam_runners.flink_args("jm:8081", "KUBERNETES", "x"), "environment_type"),
    (lambda: beam_runners.flink_args("jm:8081", "LOOPBACK", parallelism=0), "parallelism"),
    (lambda: beam_runners.spark_args("spark-master:7077"), "spark://HOST:PORT"),
    (lambda: beam_runners.dataflow_args("proj", "us-central1", "/tmp/local"), "gs://"),
    (lambda: beam_runners.dataflow_args("", "us-central1", "gs://b/tmp"), "--project"),
    (lambda: beam_runners.check_beam_args(["--runner=DataflowRunner", "--project=p"]), "--region, --temp_location"),
    (lambda: beam_runners.check_beam_args(["--flink_mastr=jm:8081"]), "flink_mastr"),
])
def test_bad_arguments_name_the_fix(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_create_pipeline_refuses_a_misspelled_beam_argument(tmp_path):
    with pytest.raises(ValueError, match="direct_num_wrkers"):
        p.create_pipeline("beam", str(tmp_path / "root"), str(tmp_path / "data"), str(tmp_path / "serving"),
                          _config(), component_beam_args={p.EVALUATOR: ["--direct_num_wrkers=2"]})
