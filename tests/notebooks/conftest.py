"""Executes notebooks top to bottom with the project's own interpreter as the kernel."""
import os
import pathlib
import sys

import pytest

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture
def run_notebook(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    def run(name: str, timeout: int = 600):
        notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
        env_before = dict(os.environ)
        # The kernel must be this interpreter (the venv's), whatever `python` is on PATH.
        os.environ.update({"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore",
                           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")})
        try:
            NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(tmp_path)}}).execute()
        finally:
            os.environ.clear()
            os.environ.update(env_before)
        return notebook

    return run


@pytest.fixture
def outputs_of():
    """outputs_of(notebook, kind=None): all outputs of all code cells, optionally of one output_type."""
    def collect(notebook, kind=None):
        return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
                if kind is None or o.output_type == kind]

    return collect
