"""The pipeline run report: one static HTML page per run (`write_run_report`), and the readers of
ML Metadata and of the run's artifacts it shares with `tfx_pipeline.model_card`.

`write_run_report` and `SECTION_IDS` load lazily: the CLI imports this package without TFX.
"""


def __getattr__(name):
    if name in ("write_run_report", "SECTION_IDS"):
        from tfx_pipeline.report import html_report

        return getattr(html_report, name)
    raise AttributeError(f"module 'tfx_pipeline.report' has no attribute {name!r}")
