"""Release notes as HTML: Markdown renders, and nothing that could run script survives."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from ferryman.notes import to_html


def test_markdown_renders_to_the_tags_it_needs() -> None:
    html = to_html("# Fixes\n\n- **faster** start\n- ~~old~~ [docs](https://example.com)\n")
    assert "<h1>Fixes</h1>" in html
    assert "<li><strong>faster</strong> start</li>" in html
    assert "<s>old</s>" in html
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">docs</a>' in html
    assert "<table>" in to_html("| a | b |\n| - | - |\n| 1 | 2 |")


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<a href="https://example.com" onclick="alert(1)">x</a>',
        "<svg onload=alert(1)>",
        "<iframe src=https://example.com></iframe>",
        '<div style="position:fixed">x</div>',
        "[x](javascript:alert(1))",
        "[x](JavaScript:alert(1))",
        "[x](javascript&#58;alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x](vbscript:msgbox(1))",
        "<javascript:alert(1)>",
        "![x](javascript:alert(1))",
        '[x](https://example.com "a\\" onmouseover=\\"alert(1)")',
    ],
)
def test_nothing_that_could_run_or_restyle_survives(hostile: str) -> None:
    elements = Elements()
    elements.feed(to_html(hostile))
    for tag, attributes in elements.found:
        assert tag in {"p", "a", "strong", "em"}, tag
        for name, value in attributes:
            assert name in {"href", "title", "rel"}, name
            if name == "href":
                assert urlsplit(value or "").scheme in {"http", "https", "mailto"}, value


class Elements(HTMLParser):
    """Every element of an HTML fragment, with its attributes as a browser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def test_raw_html_is_shown_as_text() -> None:
    assert to_html("<b>bold</b>") == "<p>&lt;b&gt;bold&lt;/b&gt;</p>\n"
