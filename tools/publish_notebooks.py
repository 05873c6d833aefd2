"""Executes the notebooks top to bottom and writes readable copies to docs/notebooks/<name>.html.

  python tools/publish_notebooks.py [NAME ...]     # `make notebooks`; default: every notebook

Each notebook runs in a scratch directory with this interpreter as its kernel (as the notebook
tests do); the HTML keeps every output (plots inline), so a reader sees the numbers without running.
nbconvert's template CSS (the same ~260 kB in every page's <head>) goes to one shared
docs/notebooks/notebook.css that each page links; styles inside outputs stay inline.
"""
from __future__ import annotations

import os
import pathlib
import re
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
OUT = REPO / "docs" / "notebooks"
SHARED_CSS = "notebook.css"
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>\s*", re.S)


def share_head_styles(html: str):
    """(the page with its <head> styles replaced by a link to SHARED_CSS, those styles as CSS)."""
    head, separator, body = html.partition("</head>")
    if not separator:
        raise ValueError("share_head_styles: the page has no </head>; is it nbconvert's HTML?")
    css = "\n".join(match.group(1).strip() for match in _STYLE.finditer(head))
    head = _STYLE.sub("", head) + f'<link rel="stylesheet" href="{SHARED_CSS}">\n'
    return head + separator + body, css + "\n"


def publish(path: pathlib.Path, timeout: int = 1200) -> pathlib.Path:
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    notebook = nbformat.read(path, as_version=4)
    os.environ.update({"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore",
                       "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")})
    with tempfile.TemporaryDirectory(prefix="notebook-") as workdir:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": workdir}}).execute()
    html, _ = HTMLExporter(embed_images=True).from_notebook_node(notebook)
    html, css = share_head_styles(html)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / SHARED_CSS).write_text(css, encoding="utf-8")
    target = OUT / (path.stem + ".html")
    target.write_text(html, encoding="utf-8")
    return target


def main(argv) -> int:
    names = argv or sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    for name in names:
        path = NOTEBOOKS / (name if name.endswith(".ipynb") else name + ".ipynb")
        if not path.exists():
            print(f"no notebook {path}", file=sys.stderr)
            return 2
        print(f"{path.name} -> {publish(path).relative_to(REPO)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
