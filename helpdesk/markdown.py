"""Markdown to safe HTML for ticket messages and articles: no raw HTML, only http(s)/mailto links.

markdown-it-py (CommonMark, with tables, strikethrough and line breaks kept) parses in time linear in
the text: Python-Markdown took minutes over a message of nothing but "[" (each one scanned the rest
of the text for its closing bracket). nh3 then keeps only the tags, attributes and link schemes below.
"""

import html
import re
from functools import lru_cache
from itertools import pairwise
from urllib.parse import unquote

import nh3
from django.utils.html import strip_tags
from django.utils.text import slugify
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.parser_block import ParserBlock
from markdown_it.rules_block import StateBlock
from markdown_it.token import Token

from helpdesk.forms import shows_text

ALLOWED_TAGS = {
    "a", "p", "br", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td", "del", "s",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "code": {"class"},
    # A list's first number: steps 2 and 3 after a code block go on from 2, not 1 again.
    "ol": {"start"},
    # An article's headings are the targets of its in-page links (HEADING_ID_PREFIX).
    **{f"h{level}": {"id"} for level in range(2, 7)},
}  # fmt: skip
# Heading ids carry a prefix no id of our pages' own has, so a heading called "Main" cannot take the
# skip link's target; a link in the same article to "#step-two" is made "#h-step-two".
HEADING_ID_PREFIX = "h-"
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


def _image_as_link(self, tokens, idx, options, env) -> str:
    """An image becomes a link to it, labelled with its alt text: our pages load nothing from other
    hosts, and what the writer said about the image stays."""
    image = tokens[idx]
    label = self.renderInlineAsText(image.children or [], options, env) or image.attrGet("src") or ""
    title = image.attrGet("title")
    title_attribute = f' title="{escapeHtml(str(title))}"' if title else ""
    return f'<a href="{escapeHtml(str(image.attrGet("src") or ""))}"{title_attribute}>{escapeHtml(label)}</a>'


def _page_outline(state) -> None:
    """'# Title' in a message or an article is a heading inside the page, whose own title is its only
    h1: every heading moves one level down (h1 → h2, …), and one with nothing to read ("##", or only
    invisible characters) is no heading (screen readers would list an empty one). Table cells say their
    alignment with the `align` attribute, which the sanitiser keeps (it drops style attributes)."""
    for index, token in enumerate(state.tokens):
        if token.type == "heading_open" and _wordless(state.tokens[index + 1].children):
            token.hidden = state.tokens[index + 2].hidden = True  # the renderer writes neither tag
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close") and token.tag in ("h1", "h2", "h3", "h4", "h5"):
            token.tag = f"h{int(token.tag[1]) + 1}"
        elif token.type in ("th_open", "td_open") and (style := token.attrGet("style")):
            token.attrs.pop("style", None)
            token.attrSet("align", str(style).removeprefix("text-align:"))
    if state.env.get("heading_ids"):
        _heading_ids(state.tokens)


def _wordless(tokens) -> bool:
    """Whether inline `tokens` show nothing to read: no words, no image or link (which show as words)."""
    return not shows_text(_words(tokens)) and not any(
        token.type in ("image", "link_open") for token in tokens or ()
    )


def _words(tokens) -> str:
    """The words of inline `tokens` as read: their text, a line break a space."""
    return "".join(
        " " if token.type in ("softbreak", "hardbreak") else token.content
        for token in tokens or ()
        if token.type in ("text", "code_inline", "softbreak", "hardbreak")
    )


def _anchor(words: str) -> str:
    """A heading's words, or a link's target, as an id's tail: "Step two" and "#step-two" alike."""
    return slugify(words, allow_unicode=True)[:80]


def _heading_ids(tokens) -> None:
    """Each heading gets an id from its words ("Step two" → "h-step-two", a second one "h-step-two-2"),
    and a link to "#step-two" (or "#Step two") in the same text goes to it, as on GitHub and Zendesk.
    The words are the heading's text as read: a link in it gives its words, not its address."""
    taken: set[str] = set()
    # The next number to try for each heading's words: counted up from 2 for every repeat, ten thousand
    # "## Step" headings took seconds (a preview is one POST away for any agent).
    following: dict[str, int] = {}
    for heading, inline in pairwise(tokens):
        if heading.type != "heading_open" or heading.hidden:
            continue
        words = _anchor(_words(inline.children)) or "section"
        anchor, number = words, following.get(words, 2)
        while anchor in taken:
            anchor = f"{words}-{number}"
            number += 1
        following[words] = number
        taken.add(anchor)
        heading.attrSet("id", HEADING_ID_PREFIX + anchor)
    for token in tokens:
        for child in token.children or ():
            href = child.attrGet("href") if child.type == "link_open" else None
            if isinstance(href, str) and href.startswith("#"):
                target = _anchor(unquote(href[1:]))
                if target in taken:
                    child.attrSet("href", f"#{HEADING_ID_PREFIX}{target}")


# A reference link repeats its definition's address (and title) at each use: "[x]: /aaaa…" once and
# "[x] " three thousand times made 17,000 characters of reply into 15 MB of HTML, stored and sent with
# every view of the ticket. The addresses a text's links carry, as written into the HTML, are held to a
# multiple of its length; past that, a link shows its words without its address (as one with a scheme
# we drop does).
LINK_ADDRESS_BUDGET_PER_CHARACTER = 8
LINK_ADDRESS_BUDGET_MINIMUM = 10_000


def _links(state) -> None:
    """Links within the budget above; an image inside a link (a badge) shows as its words, the link's:
    as a link of its own it would split the writer's link in two, the first part empty."""
    budget = LINK_ADDRESS_BUDGET_PER_CHARACTER * len(state.src) + LINK_ADDRESS_BUDGET_MINIMUM
    for token in state.tokens:
        link_kept, in_link = True, False  # the link being read, which may hold an image
        for child in token.children or ():
            if child.type in ("link_open", "image"):
                address = escapeHtml(str(child.attrGet("href") or child.attrGet("src") or ""))
                # An image without words is labelled with its address (_image_as_link): written twice.
                uses = 2 if child.type == "image" and not _words(child.children) else 1
                budget -= uses * len(address) + len(escapeHtml(str(child.attrGet("title") or "")))
                kept = budget >= 0 and not (child.type == "image" and in_link)
                if child.type == "link_open":
                    link_kept, in_link = kept, True
            elif child.type == "link_close":
                kept, in_link = link_kept, False
            else:
                continue
            if not kept:
                words = _words(child.children)  # an image's; a link's words are the tokens between
                if child.type == "image" and not words:  # past the budget, no address as its words
                    words = str(child.attrGet("src") or "") if budget >= 0 else "image"
                child.type, child.tag, child.nesting, child.attrs, child.children = "text", "", 0, {}, None
                child.content = words
        budget = _name_wordless_links(token.children or [], budget)


def _name_wordless_links(children: list, budget: int) -> int:
    """A link kept with nothing to read ("[](https://…)", or only invisible characters) reads as its
    address, as an image without words does: an empty link is invisible, and a screen reader says only
    "link". Past the budget, "link". The budget left."""
    for index, child in enumerate(children):
        if child.type != "link_open":
            continue
        end = next(at for at in range(index + 1, len(children)) if children[at].type == "link_close")
        if not shows_text(_words(children[index + 1 : end])):
            address = str(child.attrGet("href") or "")
            budget -= len(escapeHtml(address))
            children.insert(end, Token("text", "", 0, content=address if budget >= 0 else "link"))
    return budget


class _BlocksKeepDeepText(ParserBlock):
    """Past maxNesting (20 quotes or lists deep) markdown-it skips the rest of the block, so text typed
    there would not show while the stored body holds it: it comes as a plain paragraph instead."""

    def tokenize(self, state: StateBlock, startLine: int, endLine: int) -> None:
        if state.level < state.md.options.maxNesting:
            super().tokenize(state, startLine, endLine)
            return
        text = state.getLines(startLine, endLine, state.blkIndent, False).strip()
        if text:
            state.push("paragraph_open", "p", 1).map = [startLine, endLine]
            inline = state.push("inline", "", 0)
            inline.content, inline.map, inline.children = text, [startLine, endLine], []
            state.push("paragraph_close", "p", -1)
        state.line = endLine


_markdown = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])
_blocks = _BlocksKeepDeepText()
_blocks.ruler = _markdown.block.ruler  # the same block rules, tables included
_markdown.block = _blocks
# Raw HTML typed by a user is shown as text (html=False). Every link is made and nh3 drops the address
# of one whose scheme is not allowed, keeping its words, where the parser would leave "[text](javascript:…)"
# as it was typed.
_markdown.validateLink = lambda url: True
_markdown.add_render_rule("image", _image_as_link)
_markdown.core.ruler.push("page_outline", _page_outline)
_markdown.core.ruler.push("links", _links)


def render_markdown(text: str, *, heading_ids: bool = False) -> str:
    """Sanitised HTML for `text`; images become links to them (no requests to other hosts from our pages).
    `heading_ids` for a text that is a page of its own (an article): a ticket's messages share one page,
    where ids from their headings would repeat."""
    return _rendered(text, heading_ids)


# A message is rendered to tell whether it shows any words (markdown_shows_text) and again to be stored,
# in the same request: the second time is a look-up.
@lru_cache(maxsize=16)
def _rendered(text: str, heading_ids: bool) -> str:
    return nh3.clean(
        _markdown.render(text, {"heading_ids": heading_ids}).strip(),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def markdown_shows_text(text: str) -> bool:
    """Whether `text`, rendered, shows any words: "#" is an empty heading, "-" an empty list, "&nbsp;"
    a blank and "[]()" a link with nothing to click, each a message with nothing in it."""
    return shows_text(text) and shows_text(html.unescape(strip_tags(render_markdown(text))))


# Every ASCII punctuation character may be backslash-escaped in CommonMark; these are the ones that could
# end a link's text or start markup inside it.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~&])")  # & too: "&amp;" would be read as "&"


def markdown_text(text: str) -> str:
    """`text` escaped to be read as itself in markdown: a title with "]" or "*" as the words of a link."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)
