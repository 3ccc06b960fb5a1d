"""Release notes, written in Markdown, as HTML safe to put in a page.

Notes come from anyone who may edit a draft, CI pipelines included, so they are hostile
input. Markdown is rendered with raw HTML switched off (it comes out as text), and the
result is then cleaned with an allowlist anyway: only the tags Markdown itself produces,
links only to http, https and mailto, no attribute that could run script or style.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_TAGS = {
    *("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code"),
    *("strong", "em", "s", "del", "a", "ul", "ol", "li"),
    *("table", "thead", "tbody", "tr", "th", "td"),
}
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
_SCHEMES = {"http", "https", "mailto"}


def to_html(markdown: str) -> str:
    """The notes as sanitised HTML (an empty string for none)."""
    return nh3.clean(
        _MARKDOWN.render(markdown),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
