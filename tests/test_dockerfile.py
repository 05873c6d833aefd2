"""The Vertex image's Dockerfile, checked without a Docker engine: what it installs, and that the
compiled PipelineJob runs every step in it."""
import ast
import fnmatch
import json
import pathlib
import re
import shlex

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SYNC = re.compile(r"uv\S*\s+pip\s+sync\b.*\s(\S+\.txt)\b")
PACKAGE = re.compile(r"uv\S*\s+pip\s+install\b.*--no-deps\s+(?:-e\s+)?\"?\.(\[[^\]\"]*\])\"?")
UV_VERSION = "sed -n 's/^uv==//p' requirements/lock.txt"


def _instructions(path=REPO / "Dockerfile"):
    """[(INSTRUCTION, arguments)] with continuation lines joined and comments dropped."""
    out, pending = [], ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line[:-1]}" if line.endswith("\\") else f"{pending} {line}"
        if not line.endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            out.append((keyword.upper(), " ".join(rest.split())))
            pending = ""
    return out


def _index(instructions, keyword, predicate):
    found = [i for i, (k, args) in enumerate(instructions) if k == keyword and predicate(args)]
    assert found, f"no {keyword} matching in the Dockerfile"
    return found[0]


def _copied(instructions):
    """Sources of the COPY instructions, with the index of each."""
    return {src.rstrip("/"): i for i, (k, args) in enumerate(instructions) if k == "COPY"
            for src in shlex.split(args)[:-1] if not src.startswith("--")}


def _setup_packages():
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "find_packages":
            include = next(k.value for k in node.keywords if k.arg == "include")
            return sorted({ast.literal_eval(e).rstrip("*") for e in include.elts})
    raise AssertionError("setup.py has no find_packages(include=...)")


def _ignored(path, patterns):
    """Docker's rule: the last pattern matching the path or one of its parent directories wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").rstrip("/")
        if any(fnmatch.fnmatch(p, body) or fnmatch.fnmatch(p, body.replace("**/", "")) for p in prefixes):
            ignored = not negate
    return ignored


def test_base_image_is_python_310():
    instructions = _instructions()
    assert instructions[0][0] == "FROM"
    image = instructions[0][1].split()[0]
    repository, _, tag = image.partition(":")
    if repository.endswith("tfx"):
        assert tag.startswith("1.16"), image  # the TFX 1.16 image runs Python 3.10
    else:
        assert repository in ("python", "docker.io/library/python") and re.match(r"3\.10(\.|-|$)", tag), image
    assert "3.10" in (REPO / "tools" / "bootstrap.sh").read_text(encoding="utf-8")


def test_dependencies_come_from_the_lock_as_bootstrap_installs_them():
    instructions = _instructions()
    bootstrap = (REPO / "tools" / "bootstrap.sh").read_text(encoding="utf-8")
    sync = _index(instructions, "RUN", SYNC.search)
    assert SYNC.search(instructions[sync][1]).group(1) == "requirements/lock.txt"
    assert SYNC.search(bootstrap).group(1) == "requirements/lock.txt"
    # uv at the lock's version, read from the lock the same way.
    assert UV_VERSION in bootstrap and UV_VERSION in instructions[sync][1]
    assert re.search(r"^uv==[\d.]+$", (REPO / "requirements" / "lock.txt").read_text(encoding="utf-8"), re.M)
    lock_copy = _copied(instructions).get("requirements/lock.txt")
    assert lock_copy is not None and lock_copy < sync
    # Only the lock is copied before the sync, so that layer is reused until the lock changes.
    assert [s for s, i in _copied(instructions).items() if i < sync] == ["requirements/lock.txt"]


def test_the_package_is_installed_with_bootstraps_extras_and_no_deps():
    instructions = _instructions()
    bootstrap = (REPO / "tools" / "bootstrap.sh").read_text(encoding="utf-8")
    install = _index(instructions, "RUN", PACKAGE.search)
    assert PACKAGE.search(instructions[install][1]).group(1) == PACKAGE.search(bootstrap).group(1) == "[all]"
    assert install > _index(instructions, "RUN", SYNC.search)
    copied = _copied(instructions)
    for needed in ["setup.py", "README.md"] + _setup_packages():  # setup.py reads README.md
        assert needed in copied and copied[needed] < install, needed


def test_dockerignore_keeps_what_is_copied_and_drops_the_rest():
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    for source in _copied(_instructions()):
        assert not _ignored(source, patterns), source
    for kept in ("mtl_keras/models.py", "tfx_pipeline/trainer.py", "transform/preprocessing.py"):
        assert not _ignored(kept, patterns), kept
    for dropped in (".venv/bin/python", ".git/HEAD", "notebooks/03_tfx_pipeline.ipynb", "demo_out/metadata.sqlite",
                    "benchmarks/results/train_speed.json", "mtl_keras/__pycache__/models.cpython-310.pyc"):
        assert _ignored(dropped, patterns), dropped


def test_make_image_builds_the_dockerfile():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^\.PHONY:.*\bimage\b", makefile, re.M)
    assert re.search(r"^IMAGE \?= mtl-ads:latest$", makefile, re.M)
    assert re.search(r"^image:\n\tdocker build -t \$\(IMAGE\) \.$", makefile, re.M)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    from mtl_keras.simulation import feature_spec
    from tfx_pipeline import vertex
    from tfx_pipeline.pipeline import create_pipeline
    from tfx_pipeline.presets import tiny_model_config, tiny_simulation

    config = tiny_model_config(feature_spec(tiny_simulation(), embedding_dim=4))
    pipeline = create_pipeline(pipeline_name="image", pipeline_root="gs://b/root", data_root="gs://b/data",
                               serving_dir="gs://b/serving", model_config=config)
    out = tmp_path_factory.mktemp("image") / "pipeline.json"
    return json.loads(pathlib.Path(vertex.compile_vertex(pipeline, str(out), "mtl-ads:latest")).read_text())


def test_compiled_pipeline_runs_every_step_in_the_image(compiled):
    executors = compiled["pipelineSpec"]["deploymentSpec"]["executors"]
    containers = {name: spec["container"] for name, spec in executors.items() if "container" in spec}
    assert {"Trainer_executor", "Transform_executor", "WinPropensity_executor", "Pusher_executor"} <= set(containers)
    packages = set(_setup_packages())
    for name, container in containers.items():
        assert container["image"] == "mtl-ads:latest", name
        # `python` on PATH is the Dockerfile's environment, where the lock and the package are.
        assert container["command"][:2] == ["python", "-m"], name
        executor = container["args"][container["args"].index("--executor_class_path") + 1]
        assert executor.split(".")[0] in packages | {"tfx"}, (name, executor)
    env = " ".join(args for k, args in _instructions() if k == "ENV")
    venv = re.search(r"VIRTUAL_ENV=(\S+)", env).group(1)
    assert re.search(rf"PATH={re.escape(venv)}/bin:\$PATH", env)
    sync = next(args for k, args in _instructions() if k == "RUN" and SYNC.search(args))
    assert '--python "$VIRTUAL_ENV/bin/python"' in sync
