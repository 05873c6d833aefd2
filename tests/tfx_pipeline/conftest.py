import pathlib

import pytest


def tiny_workdir(tmp_path_factory) -> pathlib.Path:
    """One tiny pipeline workdir per test session, shared with the notebook test."""
    return tmp_path_factory.getbasetemp() / "tiny_pipeline"


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """The tiny pipeline run at least twice in one workdir: (workdir, [run ids, oldest first]).

    The second run evaluates weighted by 1/p_win (`eval_ipw`): everything up to the Trainer is
    cached and the Evaluator reruns anyway (it now has a baseline), so the weighted evaluation
    costs no extra run. The notebook test may have made the first, unweighted run already.
    """
    import mtl_keras  # noqa: F401
    from tfx_pipeline import run_summary
    from tfx_pipeline.presets import Workdir, tiny_run

    workdir = Workdir(str(tiny_workdir(tmp_path_factory)))
    done = run_summary.run_ids(workdir.metadata_path) if pathlib.Path(workdir.metadata_path).exists() else []
    for index in range(len(done), 2):
        tiny_run(workdir.base, eval_ipw=index == 1)
    return workdir, run_summary.run_ids(workdir.metadata_path)
