"""tools/publish_notebooks.py: the template CSS of every page goes to one shared file, output styles stay."""
import importlib.util
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def publish():
    spec = importlib.util.spec_from_file_location("publish_notebooks", REPO / "tools" / "publish_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_head_styles_move_to_the_shared_file_and_output_styles_stay(publish):
    page = ('<html><head><style type="text/css">a { color: red; }</style>\n<script>x()</script>'
            '<style>p { margin: 0; }</style></head><body><style>td { padding: 1px; }</style><p>hi</p></body></html>')
    html, css = publish.share_head_styles(page)
    assert css == "a { color: red; }\np { margin: 0; }\n"
    head, body = html.split("</head>")
    assert "<style" not in head and '<link rel="stylesheet" href="notebook.css">' in head and "<script>x()</script>" in head
    assert body == "<body><style>td { padding: 1px; }</style><p>hi</p></body></html>"


def test_published_pages_link_the_one_shared_stylesheet(publish):
    pages = sorted((REPO / "docs" / "notebooks").glob("*.html"))
    assert pages and (REPO / "docs" / "notebooks" / publish.SHARED_CSS).stat().st_size > 10_000
    for page in pages:
        head = page.read_text(encoding="utf-8").split("</head>")[0]
        assert "<style" not in head and f'href="{publish.SHARED_CSS}"' in head, page.name


def test_a_page_without_head_is_refused(publish):
    with pytest.raises(ValueError, match="</head>"):
        publish.share_head_styles("<p>no head</p>")
