"""A page's HTML as a tree of nodes (the stdlib parser, no browser), for the accessibility checks that read
landmarks, labels, ids and names from what the test client receives."""

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag = tag
        # A boolean attribute (<input required>) reads as "", as the DOM gives it.
        self.attrs = {name: (value if value is not None else "") for name, value in attrs}
        self.parent = parent
        self.children = []
        self.text = []

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def descendants(self):
        for child in self.children:
            yield child
            yield from child.descendants()

    def walk(self):
        yield self
        yield from self.descendants()

    def all_text(self) -> str:
        """The text a screen reader reads: an image by its alt text, nothing hidden with aria-hidden."""
        parts = list(self.text)
        for child in self.children:
            if child.tag == "img":
                parts.append(child.attrs.get("alt", ""))
            elif "aria-hidden" not in child.attrs:
                parts.append(child.all_text())
        return " ".join(" ".join(parts).split())

    def __repr__(self):
        shown = " ".join(f'{k}="{v}"' for k, v in self.attrs.items())
        return f"<{self.tag} {shown}>"[:200]


class Tree(HTMLParser):
    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.current = self.root
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.text.append(data)

    def all(self, *tags):
        """Every element (of `tags`, if given), in document order."""
        return [node for node in self.root.descendants() if not tags or node.tag in tags]

    def nodes(self):
        return self.all()
