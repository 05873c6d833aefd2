"""models.config: the ModelServerConfig text proto TF Serving reads, and back."""
import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving.export.model_config import ModelEntry, read_models_config, write_models_config


def test_written_config_parses_as_model_server_config_and_round_trips(tmp_path):
    entries = [
        ModelEntry("ctr", "/models/ctr", labels={"stable": 3, "canary": 4}),
        ModelEntry("win", "/models/win", policy="specific", versions=(1, 2)),
        ModelEntry("all", "/models/all", policy="all"),
    ]
    path = write_models_config(str(tmp_path / "cfg" / "models.config"), entries)
    text = open(path).read()
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    ctr, win, every = config.model_config_list.config
    assert (ctr.name, ctr.base_path, ctr.model_platform) == ("ctr", "/models/ctr", "tensorflow")
    assert ctr.model_version_policy.latest.num_versions == 1
    assert dict(ctr.version_labels) == {"stable": 3, "canary": 4}
    assert list(win.model_version_policy.specific.versions) == [1, 2]
    assert every.model_version_policy.WhichOneof("policy_choice") == "all"
    assert read_models_config(path) == entries


def test_bad_entries_and_files_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="policy 'specific' needs versions"):
        ModelEntry("m", "/m", policy="specific")
    with pytest.raises(ValueError, match="policy must be one of"):
        ModelEntry("m", "/m", policy="newest")
    with pytest.raises(ValueError, match="must be unique"):
        write_models_config(str(tmp_path / "c"), [ModelEntry("m", "/a"), ModelEntry("m", "/b")])
    bad = tmp_path / "bad.config"
    bad.write_text("model_config_list { config { nme: 'x' } }")
    with pytest.raises(ValueError, match="not a ModelServerConfig text proto"):
        read_models_config(str(bad))
