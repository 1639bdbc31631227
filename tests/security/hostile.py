"""Hostile text for the attack suite, and the check that a page shows it only as text."""

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'><b id=pwn>"
LIVE_MARKUP = ("<script>alert", "<img src=x", "<b id=pwn>")


def assert_inert(body: str, where: str) -> None:
    found = [marker for marker in LIVE_MARKUP if marker in body]
    assert not found, f"{where}: live markup {found}"
