"""The dependency rules of docs/architecture.md, checked on the source by tools/architecture.py."""
import importlib.util
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def _load_tool():
    spec = importlib.util.spec_from_file_location("architecture_tool", REPO / "tools" / "architecture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


arch = _load_tool()

# Stated here rather than read from the tool, so that loosening the tool's RULES cannot loosen the tests.
RULES = {
    "mtl_keras": ("tfx", "tfx_bsl", "tensorflow_transform", "tensorflow_model_analysis", "apache_beam",
                  "serving", "tfx_pipeline", "transform", "benchmarks"),
    "serving": ("tfx_pipeline", "transform", "benchmarks"),
    "transform": ("tfx_pipeline", "serving"),
}


def test_every_package_is_scanned():
    modules = arch.module_imports()
    for package in arch.PACKAGES:
        assert package in modules, f"{package}/__init__.py was not found under {REPO}"
    assert len(modules) > 50


@pytest.mark.parametrize("package", sorted(RULES))
def test_import_rules(package):
    found = arch.violations({package: RULES[package]})
    assert not found, f"{package} must not import {', '.join(RULES[package])}; found:\n" + "\n".join(
        f"  {module} imports {name}" for module, name in found)


def test_tool_rules_cover_the_tested_rules():
    # The diagram marks forbidden edges with the tool's RULES; they must say at least what is tested.
    for package, forbidden in RULES.items():
        assert set(forbidden) <= set(arch.RULES[package])


def test_no_module_over_300_lines():
    assert arch.long_modules(300) == [], "split these modules (limit 300 lines)"


def test_no_lambda_layers():
    assert arch.lambda_layer_uses() == [], "replace Lambda layers by registered layers"


def test_diagram_is_current(capsys):
    assert arch.main(["--check"]) == 0, capsys.readouterr().err


def test_check_reports_a_stale_diagram(tmp_path, capsys):
    doc = tmp_path / "architecture.md"
    doc.write_text(f"# x\n{arch.BEGIN}\nold\n{arch.END}\nafter\n", encoding="utf-8")
    assert arch.main(["--check", "--doc", str(doc)]) == 1
    assert "make architecture" in capsys.readouterr().err
    assert arch.main(["--write", "--doc", str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# x\n") and text.endswith("\nafter\n") and "flowchart" in text
    assert arch.main(["--check", "--doc", str(doc)]) == 0


# ---- the checker itself, on a fake package, so that the rule tests above cannot pass vacuously ----

def _fake_repo(root: pathlib.Path) -> pathlib.Path:
    files = {
        "lib/__init__.py": "import os\n",
        "lib/core.py": "def f():\n    import tfx.v1\n    from other.sub import thing\n    return thing\n",
        "lib/layers/__init__.py": "",
        "lib/layers/dense.py": "from .. import core\nfrom ..core import f\nfrom . import helpers\n",
        "lib/layers/helpers.py": "import importlib\nm = importlib.import_module('tensorflow_transform')\n",
        "lib/layers/lam.py": "import tf_keras as keras\nlayer = keras.layers.Lambda(lambda x: x)\n",
        "lib/layers/lam2.py": "from tf_keras.layers import Lambda\nlayer = Lambda(abs)\n",
        "lib/long.py": "x = 1\n" * 301,
        "lib/ok_length.py": "x = 1\n" * 300,
        "other/__init__.py": "",
        "other/sub.py": "import lib.core\nthing = 1\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_checker_finds_imports_in_function_bodies_and_relative_imports(tmp_path):
    imports = arch.module_imports(_fake_repo(tmp_path), ("lib", "other"))
    assert {"tfx.v1", "other.sub"} <= imports["lib.core"]
    assert {"lib.core", "lib.layers.helpers"} <= imports["lib.layers.dense"]
    assert "tensorflow_transform" in imports["lib.layers.helpers"]


def test_checker_reports_each_forbidden_import(tmp_path):
    root = _fake_repo(tmp_path)
    found = arch.violations({"lib": ("tfx", "other", "tensorflow_transform")}, root, ("lib", "other"))
    assert found == [("lib.core", "other.sub"), ("lib.core", "tfx.v1"),
                     ("lib.layers.helpers", "tensorflow_transform")]
    # A rule names a package, not a string prefix: `tf` forbids neither `tfx` nor `tf_keras`.
    assert arch.violations({"lib": ("tf",)}, root, ("lib",)) == []


def test_checker_reports_long_modules_and_lambda_layers(tmp_path):
    root = _fake_repo(tmp_path)
    assert arch.long_modules(300, root, ("lib",)) == [("lib/long.py", 301)]
    assert arch.lambda_layer_uses(root, ("lib",)) == [
        ("lib/layers/lam.py", 2), ("lib/layers/lam2.py", 1), ("lib/layers/lam2.py", 2)]


def test_diagram_marks_forbidden_edges_and_is_deterministic(tmp_path):
    root = _fake_repo(tmp_path)
    nodes, edges, _ = arch.graph(root, ("lib", "other"), {})
    assert {"lib (core)", "lib.layers", "other", "tfx", "tensorflow_transform"} <= nodes
    assert {("lib (core)", "other"), ("lib (core)", "tfx"), ("other", "lib (core)")} <= edges
    _, _, forbidden = arch.graph(root, ("lib", "other"), {"lib": ("tfx",)})
    assert forbidden == {("lib (core)", "tfx")}
    assert arch.render_mermaid(root, ("lib", "other")) == arch.render_mermaid(root, ("lib", "other"))
