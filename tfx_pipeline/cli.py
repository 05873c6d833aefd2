"""`mtl-ads pipeline run|compile-vertex|lineage|report` and `mtl-ads demo` (TFX imports happen inside the handlers)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


def register(subparsers) -> None:
    parser = subparsers.add_parser("pipeline", help="run the TFX pipeline locally or compile it for Vertex AI")
    sub = parser.add_subparsers(dest="pipeline_command", metavar="SUBCOMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run the pipeline locally (LocalDagRunner, SQLite ML Metadata, Beam)")
    _common(run)
    run.add_argument("--metadata", default=None, help="SQLite ML Metadata file (default PIPELINE_ROOT/metadata.sqlite)")
    run.add_argument("--beam-mode", choices=("in_memory", "multi_processing", "multi_threading"), default="in_memory")
    run.add_argument("--beam-workers", type=int, default=1, help="Beam DirectRunner workers (multi_processing)")
    run.add_argument("--beam-arg", action="append", default=[],
                     help="extra Beam argument (repeatable), e.g. --beam-arg=--runner=FlinkRunner "
                     "--beam-arg=--flink_master=HOST:8081 (see tfx_pipeline.beam_runners)")
    run.add_argument("--no-cache", action="store_true", help="rerun every component")
    run.add_argument("--require-blessed", action="store_true",
                     help="exit with status 1 when the Evaluator does not bless the model")
    run.set_defaults(func=_run)

    vertex = sub.add_parser("compile-vertex", help="write the Vertex AI PipelineJob JSON (and optionally submit it)")
    _common(vertex)
    vertex.add_argument("--out", required=True, help="the PipelineJob JSON to write, e.g. pipeline.json")
    vertex.add_argument("--project", default=None, help="GCP project (Dataflow, Vertex training, --submit)")
    vertex.add_argument("--region", default="us-central1")
    vertex.add_argument("--image", required=True, help="container image with this package and TFX installed")
    vertex.add_argument("--dataflow-temp", default=None,
                        help="gs:// temp location: run the Beam components on Dataflow (default: DirectRunner)")
    vertex.add_argument("--beam-arg", action="append", default=[], help="extra Beam argument (repeatable)")
    vertex.add_argument("--train-workers", type=int, default=0,
                        help="run the Trainer as a Vertex CustomJob with this many replicas (0: in the pipeline step)")
    vertex.add_argument("--parameter-servers", type=int, default=0, help="parameter-server replicas (with --train-workers)")
    vertex.add_argument("--machine-type", default="n1-standard-8")
    vertex.add_argument("--submit", action="store_true", help="submit the job with google-cloud-aiplatform")
    vertex.set_defaults(func=_compile_vertex)
    from tfx_pipeline.lineage_cli import register_lineage

    register_lineage(sub)
    from tfx_pipeline.report.cli import register_report

    register_report(sub)


def register_demo(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="simulate ~200k requests, run the whole pipeline locally, print the evaluation",
        description="Simulates a bid-request log with ground truth, runs the TFX pipeline on it with the local "
        "runner and prints seconds per component, the per-task evaluation and the pushed model's path.",
    )
    parser.add_argument("--workdir", default="demo_out", help="where data, pipeline artifacts and models go")
    parser.add_argument("--requests", type=int, default=200_000, help="simulated bid requests")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=_demo)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="directory of TFRecord (tf.Example) or CSV request logs")
    parser.add_argument("--pipeline-root", required=True, help="where pipeline artifacts go")
    parser.add_argument("--serving-dir", required=True, help="base directory of the pushed, versioned models")
    parser.add_argument("--name", default="mtl-ads", help="pipeline name")
    parser.add_argument("--format", choices=("tfrecord", "csv"), default="tfrecord")
    parser.add_argument("--pattern", default=None, help="file pattern inside --data (default *.tfrecord* / *.csv)")
    parser.add_argument("--schema", default=None, help="curated schema.pbtxt (ImportSchemaGen) instead of inferring")
    parser.add_argument("--model-config", default=None, help="ModelConfig JSON file (its 'features' is the FeatureSpec)")
    parser.add_argument("--feature-spec", default=None,
                        help="FeatureSpec JSON (default DATA/feature_spec.json, as written by mtl-ads simulate)")
    parser.add_argument("--transform-config", default=None, help="TransformConfig JSON file")
    parser.add_argument("--win-model", default=None, help='win model JSON, e.g. \'{"kind": "km"}\'')
    parser.add_argument("--eval-ipw", action="store_true", help="weight the evaluation by 1/p_win")
    parser.add_argument("--min-auc", type=float, default=0.5, help="blessing: lowest CTR AUC on the overall slice")
    parser.add_argument("--slice", action="append", default=[], help="feature to slice the evaluation by (repeatable)")
    parser.add_argument("--calibrate", choices=("none", "isotonic", "platt", "histogram"), default="isotonic",
                        help="calibrators fitted on the eval split by the Trainer and served (default isotonic)")
    parser.add_argument("--calibration-space", choices=("impression", "request", "click_do"), default="impression")


def _read_json(path: str, what: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{what} file {path!r} does not exist.") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{what} file {path!r} is not valid JSON: {err}.") from None


def _pipeline_args(args: argparse.Namespace) -> dict:
    from mtl_keras.config import ModelConfig
    from mtl_keras.features import FeatureSpec
    from transform.config import TransformConfig
    from tfx_pipeline.presets import demo_model_config

    if args.model_config:
        model_config = ModelConfig.from_dict(_read_json(args.model_config, "--model-config"))
    else:
        spec_path = args.feature_spec or os.path.join(args.data, "feature_spec.json")
        if "://" not in spec_path and not os.path.exists(spec_path):
            raise ValueError(f"No FeatureSpec: {spec_path!r} does not exist. Pass --feature-spec or --model-config.")
        import tensorflow as tf

        with tf.io.gfile.GFile(spec_path) as f:
            model_config = demo_model_config(FeatureSpec.from_json(f.read()))
    win_model = json.loads(args.win_model) if args.win_model else None
    return dict(
        pipeline_name=args.name,
        pipeline_root=args.pipeline_root,
        data_root=args.data,
        serving_dir=args.serving_dir,
        model_config=model_config,
        transform_config=TransformConfig.from_dict(_read_json(args.transform_config, "--transform-config"))
        if args.transform_config else None,
        data_format=args.format,
        input_pattern=args.pattern,
        schema_path=args.schema,
        win_model=win_model,
        eval_ipw=args.eval_ipw,
        calibration=None if getattr(args, "calibrate", "none") == "none"
        else {"kind": args.calibrate, "space": args.calibration_space},
        min_auc=args.min_auc,
        slice_features=args.slice,
    )


def _run(args: argparse.Namespace) -> int:
    from tfx_pipeline.run_checks import blessing_failure, check_run_args

    check_run_args(args)  # paths, files and values, before TFX is imported
    pipeline_args = _pipeline_args(args)
    from tfx_pipeline.local_runner import metadata_path_for, run_local
    from tfx_pipeline.pipeline import beam_args, create_pipeline
    from tfx_pipeline.stale_runs import mark_stale_executions

    metadata_path = args.metadata or metadata_path_for(args.pipeline_root)
    pipeline = create_pipeline(**pipeline_args, metadata_path=metadata_path,
                               beam_pipeline_args=beam_args(args.beam_mode, args.beam_workers, args.beam_arg),
                               enable_cache=not args.no_cache)
    stale = mark_stale_executions(metadata_path, args.name)
    if stale:
        print(f"marked {len(stale)} executions left RUNNING by a killed run as FAILED:")
        print("\n".join(f"  {s.describe()}" for s in stale), flush=True)
    report = run_local(pipeline, metadata_path)
    print(report.format())
    if report.pushed_path:
        from tfx_pipeline.model_card import write_model_card

        print(f"model card: {write_model_card(metadata_path, os.path.basename(report.pushed_path.rstrip('/')))}")
    reused = [r.component for r in report.components if r.state == "CACHED"]
    print(f"reused from earlier runs (cache): {', '.join(reused)}" if reused else "reused from earlier runs: nothing")
    failure = blessing_failure(report.blessed, args.min_auc) if args.require_blessed else None
    if failure:
        print(f"error: {failure}", file=sys.stderr)
        return 1
    return 0


def _compile_vertex(args: argparse.Namespace) -> int:
    from tfx_pipeline import vertex
    from tfx_pipeline.beam_runners import dataflow_args
    from tfx_pipeline.pipeline import create_pipeline

    # Dataflow's workers run the pipeline image too: the WinPropensity step imports this package there.
    beam = dataflow_args(args.project, args.region, args.dataflow_temp, image=args.image, extra=args.beam_arg) \
        if args.dataflow_temp else list(args.beam_arg)
    training = None
    if args.train_workers:
        if not args.project:
            raise ValueError("--train-workers needs --project (the Vertex CustomJob runs there).")
        training = {"project": args.project, "region": args.region, "worker_pool_specs": vertex.worker_pool_specs(
            args.image, args.train_workers, args.machine_type, args.parameter_servers)}
    pipeline = create_pipeline(**_pipeline_args(args), beam_pipeline_args=beam, vertex_training=training)
    path = vertex.compile_vertex(pipeline, args.out, args.image)
    print(f"wrote {path}")
    if args.submit:
        if not args.project:
            raise ValueError("--submit needs --project.")
        print(f"submitted {vertex.submit(path, args.project, args.region, args.pipeline_root)}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from tfx_pipeline.presets import Workdir, demo_simulation, run_simulated

    start = time.perf_counter()
    workdir = Workdir(os.path.abspath(args.workdir))
    print(f"mtl-ads demo: {args.requests} simulated requests, artifacts under {workdir.base}", flush=True)
    report = run_simulated(workdir, demo_simulation(args.requests, args.seed), slice_features=["device"])
    wall = time.perf_counter() - start
    print(report.format())
    print(f"demo wall time (simulation included): {wall:.1f} s")
    # A record of the run for comparisons across machines (the load average says how busy this one was).
    record = {**report.to_dict(), "requests": args.requests, "demo_wall_seconds": wall,
              "load_average": os.getloadavg(), "cpus": os.cpu_count()}
    with open(os.path.join(workdir.base, "demo_report.json"), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
    if report.pushed_path:
        from tfx_pipeline.model_card import write_model_card

        print(f"model card: {write_model_card(workdir.metadata_path, os.path.basename(report.pushed_path.rstrip('/')))}")
    from tfx_pipeline.report import write_run_report

    print(f"run report: {write_run_report(workdir.base, os.path.join(workdir.base, 'report.html'))}")
    return 0 if report.pushed_path else 1
