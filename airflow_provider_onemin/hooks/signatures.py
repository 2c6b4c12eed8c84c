"""
Signed links are credentials: the one way this package drops a signature before anything is written.

A signed link (a record's ``temporaryUrl``, a ``responseObject.data[].url`` with a query string, a
pre-signed object-store URL) opens for whoever holds it until it expires. :func:`link_without_query`
keeps a link's scheme, host and path; :func:`without_signatures` applies it to whatever is about to
be written (XCom, the extra link, trigger events and ``next_kwargs``, the reuse index, messages).
A link needed later is renewed by polling the uuid (:func:`.downloads.fresh_links`).

Imports nothing of the provider, so every layer may use it (lineage included).
"""

from __future__ import annotations

import logging
import re
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

T = TypeVar("T")

#: The field of a record that holds signed download links: dropped, not merely shortened, so
#: that nothing downloads from a link that lost its signature (the asset URL of the key serves).
SIGNED_LINK_FIELD = "temporaryUrl"
# An http(s) URL inside a text, up to whitespace or a quote.
_URL_IN_TEXT = re.compile(r"https?://[^\s'\"<>]+", re.IGNORECASE)
# The request line urllib3 logs at DEBUG: "GET /path?query HTTP/1.1" (a path, not a URL).
_REQUEST_LINE = re.compile(r'"([A-Z]+) (\S+) (HTTP/[\d.]+)"')
#: The HTTP libraries' loggers that write request URLs (urllib3 at DEBUG, httpx at INFO).
HTTP_LOGGERS = ("urllib3.connectionpool", "httpx")


def link_without_query(url: str) -> str:
    """
    ``url`` without its query string, fragment and user info: a signed link without its
    signature (and without a password, should one be in it).
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL urllib can read (a stray bracket): cut at the query all the same
        return re.split(r"[?#]", url, maxsplit=1)[0]
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def without_signatures(value: T) -> T:
    """
    A copy of ``value`` fit to be written anywhere: every ``http(s)`` URL in its strings
    (whole or inside a text) goes through :func:`link_without_query`, and every signed-link field
    (:data:`SIGNED_LINK_FIELD`) is left out. Dicts, lists and tuples are copied; other values are
    returned as they are.

    :param value: a record, a trigger event, a list of URLs, a message...
    """
    if isinstance(value, str):
        if "://" not in value:
            return value
        return _URL_IN_TEXT.sub(lambda match: link_without_query(match.group()), value)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {  # type: ignore[return-value]
            key: without_signatures(item) for key, item in value.items() if key != SIGNED_LINK_FIELD
        }
    if isinstance(value, (list, tuple)):
        return type(value)(without_signatures(item) for item in value)  # type: ignore[return-value]
    return value


class SignatureFilter(logging.Filter):
    """Rewrites a log record's message without signatures (request lines and URLs alike)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = without_signatures(
            _REQUEST_LINE.sub(lambda m: f'"{m[1]} {link_without_query(m[2])} {m[3]}"', message)
        )
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def hide_signatures_in_http_logs() -> None:
    """
    Make the HTTP libraries' loggers (:data:`HTTP_LOGGERS`) write no signature: a user who turns
    on DEBUG logging to chase a problem would otherwise have each signed download link in the
    task log. Idempotent; called when a hook makes its HTTP clients.
    """
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, SignatureFilter) for existing in logger.filters):
            logger.addFilter(SignatureFilter())
