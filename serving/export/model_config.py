"""models.config: TF Serving's ModelServerConfig text proto, written and read."""
from __future__ import annotations

import dataclasses
import os
from typing import List, Mapping, Sequence, Tuple

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

POLICIES = ("latest", "all", "specific")


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One model of the config: where its versions live and which of them to serve."""

    name: str
    base_path: str
    policy: str = "latest"
    num_versions: int = 1
    versions: Tuple[int, ...] = ()
    labels: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "versions", tuple(int(v) for v in self.versions))
        object.__setattr__(self, "labels", dict(self.labels))
        if not self.name or "/" in self.name or ":" in self.name:
            raise ValueError(f"ModelEntry.name must be non-empty without '/' or ':', got {self.name!r}.")
        if not self.base_path:
            raise ValueError(f"ModelEntry {self.name!r}: base_path is empty.")
        if self.policy not in POLICIES:
            raise ValueError(f"ModelEntry {self.name!r}: policy must be one of {POLICIES}, got {self.policy!r}.")
        if self.policy == "specific" and not self.versions:
            raise ValueError(f"ModelEntry {self.name!r}: policy 'specific' needs versions.")
        if self.policy == "latest" and self.num_versions < 1:
            raise ValueError(f"ModelEntry {self.name!r}: num_versions must be >= 1, got {self.num_versions}.")


def models_config(entries: Sequence[ModelEntry]) -> model_server_config_pb2.ModelServerConfig:
    if not entries:
        raise ValueError("models_config needs at least one ModelEntry.")
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"Model names must be unique, got {names}.")
    config = model_server_config_pb2.ModelServerConfig()
    for entry in entries:
        model = config.model_config_list.config.add(name=entry.name, base_path=entry.base_path)
        model.model_platform = "tensorflow"
        policy = model.model_version_policy
        if entry.policy == "latest":
            policy.latest.num_versions = entry.num_versions
        elif entry.policy == "all":
            policy.all.SetInParent()
        else:
            policy.specific.versions.extend(entry.versions)
        for label, version in entry.labels.items():
            model.version_labels[label] = version
    return config


def write_models_config(path: str, entries: Sequence[ModelEntry]) -> str:
    """Writes the text proto that `tensorflow_model_server --model_config_file=PATH` reads."""
    text = text_format.MessageToString(models_config(entries))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def read_models_config(path: str) -> List[ModelEntry]:
    with open(path, encoding="utf-8") as f:
        try:
            config = text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())
        except text_format.ParseError as err:
            raise ValueError(f"{path} is not a ModelServerConfig text proto: {err}") from None
    entries = []
    for model in config.model_config_list.config:
        policy = model.model_version_policy.WhichOneof("policy_choice") or "latest"
        entries.append(
            ModelEntry(
                name=model.name,
                base_path=model.base_path,
                policy=policy,
                num_versions=model.model_version_policy.latest.num_versions or 1,
                versions=tuple(model.model_version_policy.specific.versions),
                labels=dict(model.version_labels),
            )
        )
    if not entries:
        raise ValueError(f"{path} lists no models under model_config_list.")
    return entries
