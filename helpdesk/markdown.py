"""Markdown to safe HTML for ticket messages and articles: no raw HTML, only http(s)/mailto links."""

import xml.etree.ElementTree as etree

import markdown
import nh3
from markdown.inlinepatterns import (
    IMAGE_LINK_RE,
    IMAGE_REFERENCE_RE,
    ImageInlineProcessor,
    ImageReferenceInlineProcessor,
    ShortImageReferenceInlineProcessor,
)
from markdown.treeprocessors import Treeprocessor

ALLOWED_TAGS = {
    "a",
    "p",
    "br",
    "strong",
    "em",
    "b",
    "i",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "del",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "code": {"class"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


def _as_link(processor: type) -> type:
    """An image processor that writes a link to the image, labelled with its alt text, instead of the
    image: our pages load nothing from other hosts, and what the writer said about the image stays."""

    class ImageAsLink(processor):
        def handleMatch(self, m, data):
            image, start, end = super().handleMatch(m, data)
            if image is None:
                return image, start, end
            link = etree.Element("a", href=image.get("src", ""))
            link.text = image.get("alt") or image.get("src", "")
            if image.get("title"):
                link.set("title", image.get("title"))
            return link, start, end

    return ImageAsLink


class _HeadingsBelowThePage(Treeprocessor):
    """ "# Title" in a message or an article is a heading inside the page, whose own title is its only
    h1: every heading moves one level down (h1 → h2, …), keeping the page's outline whole."""

    def run(self, root: etree.Element) -> None:
        for element in root.iter():
            if element.tag in ("h1", "h2", "h3", "h4", "h5"):
                element.tag = f"h{int(element.tag[1]) + 1}"


def _markdown() -> markdown.Markdown:
    md = markdown.Markdown(extensions=["fenced_code", "tables", "sane_lists", "nl2br"], output_format="html")
    # Raw HTML typed by a user is shown as text, not passed through (stops <script>, <img onerror>, …).
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    md.treeprocessors.register(_HeadingsBelowThePage(md), "headings_below_the_page", 0)
    md.inlinePatterns.register(_as_link(ImageInlineProcessor)(IMAGE_LINK_RE, md), "image_link", 150)
    md.inlinePatterns.register(
        _as_link(ImageReferenceInlineProcessor)(IMAGE_REFERENCE_RE, md), "image_reference", 140
    )
    md.inlinePatterns.register(
        _as_link(ShortImageReferenceInlineProcessor)(IMAGE_REFERENCE_RE, md), "short_image_ref", 125
    )
    return md


def render_markdown(text: str) -> str:
    """Sanitised HTML for `text`; images become links to them (no requests to other hosts from our pages)."""
    html = _markdown().convert(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
