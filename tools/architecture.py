"""Dependency rules and the dependency diagram of mtl-ads, read from the source with `ast`.

Nothing is imported, so this runs without TensorFlow and sees imports inside function bodies too.

  python tools/architecture.py               # print the Mermaid diagram
  python tools/architecture.py --write       # rewrite the block in docs/architecture.md (`make architecture`)
  python tools/architecture.py --check       # exit 1 when that block is stale
  python tools/architecture.py --dot FILE    # also write the graph as Graphviz DOT
"""
from __future__ import annotations

import argparse
import ast
import pathlib
import sys
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

REPO = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("mtl_keras", "transform", "tfx_pipeline", "serving", "benchmarks")
# External dependencies worth a node: each is an install extra or a large part of one.
HEAVY = ("tfx", "tfx_bsl", "tensorflow_transform", "tensorflow_model_analysis", "apache_beam",
         "tensorflow_serving", "lifelines", "tensorflow_recommenders")
PIPELINE_STACK = ("tfx", "tfx_bsl", "tensorflow_transform", "tensorflow_model_analysis", "apache_beam")
# package -> names it must never import (prefix match on dotted names), see docs/architecture.md.
RULES: Dict[str, Tuple[str, ...]] = {
    "mtl_keras": PIPELINE_STACK + ("serving", "tfx_pipeline", "transform", "benchmarks"),
    "serving": ("tfx_pipeline", "transform", "benchmarks"),
    "transform": ("tfx_pipeline", "serving"),
}
DOC = REPO / "docs" / "architecture.md"
BEGIN = "<!-- BEGIN GENERATED DIAGRAM -->"
END = "<!-- END GENERATED DIAGRAM -->"
REGENERATE = "make architecture   (or: .venv/bin/python tools/architecture.py --write)"


def source_files(root: pathlib.Path = REPO, packages: Sequence[str] = PACKAGES) -> Dict[str, pathlib.Path]:
    """Dotted module name -> file, for every .py under the packages (a package is its __init__.py)."""
    root = pathlib.Path(root)
    files = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


def _dynamic_import(node: ast.Call) -> Optional[str]:
    """The literal name of `importlib.import_module("x")` / `__import__("x")`, else None."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name in ("import_module", "__import__") and node.args:
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and not arg.value.startswith("."):
            return arg.value
    return None


def _imports_of(tree: ast.AST, module: str, is_package: bool, known: Set[str]) -> Set[str]:
    found: Set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):  # walks function bodies and `if TYPE_CHECKING:` blocks alike
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: drop (level - 1) trailing parts of the current package
                anchor = package.split(".")[: max(len(package.split(".")) - node.level + 1, 0)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                # `from pkg import sub` imports the submodule pkg.sub when there is one.
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
        elif isinstance(node, ast.Call) and _dynamic_import(node):
            found.add(_dynamic_import(node))
    found.discard("")
    return found


def module_imports(root: pathlib.Path = REPO, packages: Sequence[str] = PACKAGES) -> Dict[str, Set[str]]:
    """Module -> the dotted names it imports anywhere in its file (relative imports resolved)."""
    files = source_files(root, packages)
    known = set(files)
    return {module: _imports_of(ast.parse(path.read_text(encoding="utf-8"), str(path)), module,
                                path.name == "__init__.py", known)
            for module, path in files.items()}


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(rules: Mapping[str, Iterable[str]] = RULES, root: pathlib.Path = REPO,
               packages: Sequence[str] = PACKAGES) -> List[Tuple[str, str]]:
    """Sorted (module, imported) pairs where a module under a rule's key imports a forbidden name."""
    found = set()
    for module, imported in module_imports(root, packages).items():
        for owner, forbidden in rules.items():
            if _matches(module, owner):
                found.update((module, name) for name in imported
                             if any(_matches(name, bad) for bad in forbidden))
    return sorted(found)


def long_modules(limit: int = 300, root: pathlib.Path = REPO,
                 packages: Sequence[str] = PACKAGES) -> List[Tuple[str, int]]:
    """(path relative to root, line count) of every module longer than `limit` lines."""
    found = []
    for path in source_files(root, packages).values():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            found.append((path.relative_to(root).as_posix(), lines))
    return sorted(found)


def lambda_layer_uses(root: pathlib.Path = REPO, packages: Sequence[str] = PACKAGES) -> List[Tuple[str, int]]:
    """(path, line) of every `Lambda` layer use: `*.layers.Lambda`, `Lambda(...)`, `import Lambda`.

    Lambda layers serialize Python bytecode: they do not load across Python versions or in TF Serving.
    """
    found = set()
    for path in source_files(root, packages).values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            hit = ((isinstance(node, ast.Attribute) and node.attr == "Lambda")
                   or (isinstance(node, ast.Name) and node.id == "Lambda")
                   or (isinstance(node, ast.ImportFrom) and any(a.name == "Lambda" for a in node.names)))
            if hit:
                found.add((path.relative_to(root).as_posix(), node.lineno))
    return sorted(found)


# ---- the diagram -------------------------------------------------------------------------------

def _subpackages(root: pathlib.Path, package: str) -> Set[str]:
    base = pathlib.Path(root) / package
    if not base.is_dir():
        return set()
    return {d.name for d in base.iterdir()
            if d.is_dir() and d.name != "__pycache__" and any(d.rglob("*.py"))}


def _part(name: str, subpackages: Mapping[str, Set[str]]) -> Optional[str]:
    """The diagram node of a dotted name: a subpackage, `<pkg> (core)`, a heavy dependency, or None."""
    top, _, rest = name.partition(".")
    if top in subpackages:
        if not subpackages[top]:
            return top  # a flat package is one node
        first = rest.split(".")[0]
        return f"{top}.{first}" if first in subpackages[top] else f"{top} (core)"
    return top if top in HEAVY else None


def graph(root: pathlib.Path = REPO, packages: Sequence[str] = PACKAGES, rules: Mapping = RULES):
    """(nodes, edges, forbidden edges) between parts; nodes include every part of the packages."""
    subs = {p: _subpackages(root, p) for p in packages if (pathlib.Path(root) / p).is_dir()}
    nodes: Set[str] = set()
    edges: Set[Tuple[str, str]] = set()
    for module, imported in module_imports(root, packages).items():
        source = _part(module, subs)
        nodes.add(source)
        for name in imported:
            target = _part(name, subs)
            if target and target != source:
                nodes.add(target)
                edges.add((source, target))
    forbidden = {(_part(m, subs), _part(i, subs)) for m, i in violations(rules, root, packages)}
    return nodes, edges, forbidden & edges


def _node_id(part: str) -> str:
    return part.replace(" (core)", "_core").replace(".", "_") + ("_ext" if part in HEAVY else "")


def _groups(nodes: Set[str]) -> List[Tuple[str, List[str]]]:
    """(group, its nodes), packages first, then the external dependencies."""
    groups: Dict[str, List[str]] = {}
    for part in sorted(nodes):
        groups.setdefault("external" if part in HEAVY else part.split(" ")[0].split(".")[0], []).append(part)
    return sorted(groups.items(), key=lambda item: (item[0] == "external", item[0]))


def render_mermaid(root: pathlib.Path = REPO, packages: Sequence[str] = PACKAGES) -> str:
    """The dependency diagram as a Mermaid flowchart; sorted, so equal code gives equal text."""
    nodes, edges, forbidden = graph(root, packages)
    lines = ["flowchart LR"]
    for group, parts in _groups(nodes):
        boxed = len(parts) > 1 or group == "external"
        if boxed:
            lines.append(f'  subgraph group_{group} ["{group}"]')
        lines += [f'  {"  " if boxed else ""}{_node_id(p)}["{p}"]' for p in parts]
        if boxed:
            lines.append("  end")
    for source, target in sorted(edges):
        arrow = "-. forbidden .->" if (source, target) in forbidden else "-->"
        lines.append(f"  {_node_id(source)} {arrow} {_node_id(target)}")
    return "\n".join(lines) + "\n"


def render_dot(root: pathlib.Path = REPO, packages: Sequence[str] = PACKAGES) -> str:
    """The same graph as Graphviz DOT (forbidden edges dashed red)."""
    nodes, edges, forbidden = graph(root, packages)
    lines = ["digraph architecture {", "  rankdir=LR;", "  node [shape=box];"]
    for group, parts in _groups(nodes):
        lines.append(f'  subgraph cluster_{group} {{ label="{group}";')
        lines += [f'    {_node_id(p)} [label="{p}"];' for p in parts]
        lines.append("  }")
    for source, target in sorted(edges):
        style = " [style=dashed, color=red]" if (source, target) in forbidden else ""
        lines.append(f"  {_node_id(source)} -> {_node_id(target)}{style};")
    return "\n".join(lines + ["}"]) + "\n"


def diagram_block(root: pathlib.Path = REPO, packages: Sequence[str] = PACKAGES) -> str:
    """What goes between the markers in docs/architecture.md."""
    return (f"{BEGIN}\n<!-- generated by tools/architecture.py; regenerate with `make architecture` -->\n"
            f"```mermaid\n{render_mermaid(root, packages)}```\n{END}")


def replace_block(text: str, block: str) -> str:
    """`text` with its BEGIN..END marker block replaced by `block` (markers included)."""
    start, stop = text.find(BEGIN), text.find(END)
    if start < 0 or stop < start:
        raise ValueError(f"the document needs the markers {BEGIN} and {END}, in that order")
    return text[:start] + block + text[stop + len(END):]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the diagram block in --doc")
    mode.add_argument("--check", action="store_true", help="exit 1 if the diagram block in --doc is stale")
    parser.add_argument("--doc", type=pathlib.Path, default=DOC, help="default: docs/architecture.md")
    parser.add_argument("--dot", type=pathlib.Path, help="also write Graphviz DOT to this file")
    args = parser.parse_args(argv)
    if args.dot:
        args.dot.write_text(render_dot(), encoding="utf-8")
    if not (args.write or args.check):
        sys.stdout.write(render_mermaid())
        return 0
    text = args.doc.read_text(encoding="utf-8")
    try:
        updated = replace_block(text, diagram_block())
    except ValueError as err:
        print(f"{args.doc}: {err}", file=sys.stderr)
        return 1
    if args.write:
        if updated != text:
            args.doc.write_text(updated, encoding="utf-8")
        print(f"{args.doc}: diagram {'updated' if updated != text else 'already current'}")
        return 0
    if updated != text:
        print(f"{args.doc}: the dependency diagram is stale; regenerate it with\n  {REGENERATE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
