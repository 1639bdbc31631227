"""Answers that hand over a file (an attachment, an export): saved by the browser, never rendered."""

from django.http import HttpResponseBase

# The file is no page of ours: nothing in it runs, whatever a browser would make of it, and no cache
# keeps a private file.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}


def as_download(response: HttpResponseBase, disposition: str) -> HttpResponseBase:
    """`response` as a download named by `disposition` (a Content-Disposition value)."""
    response["Content-Disposition"] = disposition
    for name, value in DOWNLOAD_HEADERS.items():
        response[name] = value
    return response
