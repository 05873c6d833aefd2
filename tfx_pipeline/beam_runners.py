"""Beam arguments that run the pipeline's data components (ExampleGen, StatisticsGen, WinPropensity,
Transform, Evaluator) on Dataflow, Flink or Spark instead of the local DirectRunner.

Pass the list as `create_pipeline(beam_pipeline_args=...)` (every Beam component) or per component
through `component_beam_args`. `check_beam_args` parses the list the way each component's executor
does (Beam's PipelineOptions) and checks what each runner needs, so a typo fails when the pipeline
is built, not an hour later on a worker. The workers must have this package installed:
a container image built from the repository's Dockerfile (`make image`).
"""
from __future__ import annotations

import re
from typing import List, Optional, Sequence

ENVIRONMENT_TYPES = ("DOCKER", "PROCESS", "EXTERNAL", "LOOPBACK")
_HOST_PORT = re.compile(r"^[A-Za-z0-9_.\-]+:\d{1,5}$")


def dataflow_args(project: str, region: str, temp_location: str, image: Optional[str] = None,
                  max_num_workers: Optional[int] = None, machine_type: Optional[str] = None,
                  extra: Sequence[str] = ()) -> List[str]:
    """DataflowRunner arguments. `image`: the workers' SDK container (this package and TFX), which
    needs Runner v2; without it the workers lack mtl_keras and the WinPropensity step fails there."""
    for name, value in (("project", project), ("region", region), ("temp_location", temp_location)):
        if not value:
            raise ValueError(f"Dataflow needs --{name.replace('_', '-')}; received {value!r}.")
    if not str(temp_location).startswith("gs://"):
        raise ValueError(f"Dataflow's temp_location must be a gs:// path, received {temp_location!r}.")
    args = ["--runner=DataflowRunner", f"--project={project}", f"--region={region}",
            f"--temp_location={temp_location}"]
    if image:
        args += [f"--sdk_container_image={image}", "--experiments=use_runner_v2"]
    if max_num_workers is not None:
        args.append(f"--max_num_workers={_positive('max_num_workers', max_num_workers)}")
    if machine_type:
        args.append(f"--machine_type={machine_type}")
    return [*args, *extra]


def flink_args(flink_master: str, environment_type: str = "DOCKER", environment_config: Optional[str] = None,
               parallelism: Optional[int] = None, extra: Sequence[str] = ()) -> List[str]:
    """FlinkRunner arguments: `flink_master` is HOST:PORT of the JobManager's REST endpoint (or
    "[local]" for an embedded cluster); `environment_type`/`environment_config` say where the Python
    workers run (DOCKER + the image; EXTERNAL + the worker pool's HOST:PORT; LOOPBACK for tests)."""
    if flink_master not in ("[local]", "[auto]") and not _HOST_PORT.match(str(flink_master)):
        raise ValueError(f"flink_master must be HOST:PORT (e.g. flink-jobmanager:8081) or [local], "
                         f"received {flink_master!r}.")
    args = ["--runner=FlinkRunner", f"--flink_master={flink_master}", *_environment(environment_type, environment_config)]
    if parallelism is not None:
        args.append(f"--parallelism={_positive('parallelism', parallelism)}")
    return [*args, *extra]


def spark_args(spark_master_url: str, environment_type: str = "DOCKER", environment_config: Optional[str] = None,
               extra: Sequence[str] = ()) -> List[str]:
    """SparkRunner arguments: `spark_master_url` is spark://HOST:PORT (or local[N])."""
    if not re.match(r"^(spark://[A-Za-z0-9_.\-]+:\d{1,5}|local(\[\d+\])?)$", str(spark_master_url)):
        raise ValueError(f"spark_master_url must be spark://HOST:PORT or local[N], received {spark_master_url!r}.")
    return ["--runner=SparkRunner", f"--spark_master_url={spark_master_url}",
            *_environment(environment_type, environment_config), *extra]


def check_beam_args(args: Sequence[str]) -> None:
    """Raises a ValueError naming what Beam would reject in `args`: flags no Beam option knows, and
    per runner the options it cannot start without. Offline: nothing is contacted (Beam's own
    Dataflow validator looks up the GCS bucket, so its checks are repeated here without that)."""
    from apache_beam.options.pipeline_options import (GoogleCloudOptions, PipelineOptions, PortableOptions,
                                                      StandardOptions)

    options = PipelineOptions(list(args))
    unknown = sorted(set(options.get_all_options(retain_unknown_options=True)) - set(options.get_all_options()))
    if unknown:
        raise ValueError(f"Beam does not know the arguments {unknown}; check their spelling "
                         "(python -m apache_beam.examples.wordcount --help lists the options).")
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    if runner in ("DataflowRunner", "dataflow"):
        cloud = options.view_as(GoogleCloudOptions)
        missing = [name for name in ("project", "region", "temp_location") if not getattr(cloud, name)]
        if missing:
            raise ValueError(f"DataflowRunner needs --{', --'.join(missing)}.")
        if not cloud.temp_location.startswith("gs://"):
            raise ValueError(f"DataflowRunner's --temp_location must be a gs:// path, received {cloud.temp_location!r}.")
    elif runner in ("FlinkRunner", "SparkRunner"):
        portable = options.view_as(PortableOptions)
        if portable.environment_type and portable.environment_type.upper() not in ENVIRONMENT_TYPES:
            raise ValueError(f"--environment_type={portable.environment_type} is not one of {ENVIRONMENT_TYPES}.")


def _environment(environment_type: str, environment_config: Optional[str]) -> List[str]:
    if environment_type not in ENVIRONMENT_TYPES:
        raise ValueError(f"environment_type must be one of {ENVIRONMENT_TYPES}, received {environment_type!r}.")
    if environment_type in ("DOCKER", "EXTERNAL") and not environment_config:
        raise ValueError(f"environment_type={environment_type} needs environment_config: the worker image "
                         "(DOCKER) or the worker pool's HOST:PORT (EXTERNAL).")
    args = [f"--environment_type={environment_type}"]
    return args + ([f"--environment_config={environment_config}"] if environment_config else [])


def _positive(name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, received {value!r}.")
    return value
