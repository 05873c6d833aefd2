"""Vertex AI Pipelines: compile the pipeline to a PipelineJob JSON (KubeflowV2DagRunner) and submit it."""
from __future__ import annotations

import os
from typing import Dict, List, Optional


def worker_pool_specs(image: str, num_workers: int = 1, machine_type: str = "n1-standard-8",
                      num_parameter_servers: int = 0) -> List[Dict]:
    """Vertex CustomJob pools: a chief, `num_workers - 1` more workers and optional parameter servers."""
    if not isinstance(num_workers, int) or num_workers < 1:
        raise ValueError(f"num_workers must be an int >= 1, got {num_workers!r}.")
    pool = {"machine_spec": {"machine_type": machine_type}, "container_spec": {"image_uri": image}}
    specs = [{**pool, "replica_count": 1}]
    if num_workers > 1:
        specs.append({**pool, "replica_count": num_workers - 1})
    if num_parameter_servers:
        if num_workers < 2:
            raise ValueError("Parameter-server training needs num_workers >= 2 (a chief and workers).")
        specs.append({**pool, "replica_count": num_parameter_servers})
    return specs


def compile_vertex(pipeline, out_path: str, image: str, display_name: Optional[str] = None) -> str:
    """Writes the PipelineJob JSON of `pipeline` to `out_path` and returns the path."""
    from tfx import v1 as tfx

    if not image:
        raise ValueError("compile-vertex needs --image: a container with this package and TFX installed.")
    runner_config = tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
        default_image=image, display_name=display_name
    )
    out_dir, name = os.path.split(os.path.abspath(out_path))
    os.makedirs(out_dir, exist_ok=True)
    tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=runner_config, output_dir=out_dir, output_filename=name
    ).run(pipeline)
    return os.path.join(out_dir, name)


def submit(pipeline_json: str, project: str, region: str, pipeline_root: Optional[str] = None,
           service_account: Optional[str] = None, enable_caching: bool = True) -> str:
    """Submits a compiled pipeline to Vertex AI Pipelines; returns the job's resource name."""
    from google.cloud import aiplatform

    aiplatform.init(project=project, location=region)
    job = aiplatform.PipelineJob(
        display_name=os.path.splitext(os.path.basename(pipeline_json))[0],
        template_path=pipeline_json,
        pipeline_root=pipeline_root,
        enable_caching=enable_caching,
    )
    job.submit(service_account=service_account)
    return job.resource_name
