"""A post's Markdown, shown safely: links and images as their words and
address (never opened, never fetched), raw HTML as text, every text cleaned
of control characters. Its own module: markdown-it is imported when a post
is first opened, not at start-up."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from textual.widgets import Markdown

from rse_tui.textsafe import clean

from ..render import task_boxes


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _links_as_text(state: StateCore) -> None:
    """``[docs](https://x)`` becomes ``docs <https://x>``, an image its words
    and address; a bare URL stays as it is. No link or image token is left."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        out: list[Token] = []
        hrefs: list[tuple[str, int]] = []
        for token in block.children:
            if token.type == "link_open":
                hrefs.append((str(token.attrs.get("href", "")), len(out)))
            elif token.type == "link_close":
                href, start = hrefs.pop() if hrefs else ("", len(out))
                shown = "".join(t.content for t in out[start:])
                if href and href not in (shown, f"mailto:{shown}"):
                    out.append(_text(f" <{href}>"))
            elif token.type == "image":
                alt = "".join(t.content for t in token.children or []) or token.content
                src = str(token.attrs.get("src", ""))
                out.append(_text(f"[image: {alt}] <{src}>" if alt else f"[image] <{src}>"))
            else:
                out.append(token)
        block.children = out


def safe_parser() -> MarkdownIt:
    """GitHub-flavoured Markdown with raw HTML shown as text and links as text."""
    parser = MarkdownIt("gfm-like", {"html": False})
    parser.core.ruler.push("rse_links_as_text", _links_as_text)
    return parser


class SafeMarkdown(Markdown):
    """A post's Markdown: links shown with their URL and never opened."""

    DEFAULT_CSS = "SafeMarkdown { margin: 0; padding: 0; }"

    def __init__(self, text: str = "", *, id: str | None = None) -> None:
        super().__init__(_prepare(text), id=id, parser_factory=safe_parser, open_links=False)
        self.shown_text = text

    async def show(self, text: str) -> None:
        if text != self.shown_text:
            self.shown_text = text
            await self.update(_prepare(text))

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()  # none is left (see _links_as_text); never opened all the same


def _prepare(text: str) -> str:
    return task_boxes(clean(text))
