"""Fixtures of the serving tests: the model, one export of it, and a local server on ephemeral ports."""
from __future__ import annotations

import os
import sys

import pytest

# The test modules import serving_fixtures; make that work under any --import-mode.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from serving_fixtures import build_small_model, small_spec, sample_rows


@pytest.fixture(scope="session")
def spec():
    return small_spec()


@pytest.fixture(scope="session")
def model(spec):
    return build_small_model(spec)


@pytest.fixture(scope="session")
def exported(tmp_path_factory, model, spec):
    """(base_dir, version_dir) of one export of `model` as version 1."""
    from serving.export.exporter import export_serving_model

    base = tmp_path_factory.mktemp("models") / "ctr"
    path = export_serving_model(model, spec, str(base), version=1, warmup_examples=sample_rows(3))
    return str(base), path


@pytest.fixture(scope="session")
def server(exported):
    """A LocalModelServer on ephemeral ports serving the `exported` base dir as model 'ctr'."""
    from serving.server.local_server import LocalModelServer
    from serving.export.model_config import ModelEntry

    base, _ = exported
    srv = LocalModelServer(
        [ModelEntry("ctr", base, labels={"stable": 1})], rest_port=0, grpc_port=0, poll_interval_s=0.2, max_batch_size=64
    ).start()
    yield srv
    srv.stop()
