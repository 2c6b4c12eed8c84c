"""
Downloading the results of a paid generation: one fresh signed link when the one in hand was
refused, and the error that says the generation is paid for when the download still fails.

Downloads are free, so the hook retries them on every transient failure; a failure that reaches
here used up those retries or was refused. The generation is paid for and its uuid is recorded for
the task instance (:mod:`~airflow_provider_onemin.submissions.ledger`), so the error is retryable whatever the
answer was: a retry polls that uuid again, which signs fresh links, and downloads again without
paying again.

A signed ``temporaryUrl`` is good for a while only: a 401, 403, 404 or 410 may mean it expired
between the poll and the download (a long deferral, a slow earlier result, or Airflow 3.0 handing
a retry the earlier try's trigger event), so the link is renewed once, in the same try, by polling
the uuid (free).

Messages name the generation, the result and the link without its query string (the signature),
never the API key (:mod:`.signatures` drops a signature; a link needed later is renewed by polling
the uuid, :func:`fresh_links`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from airflow_provider_onemin.exceptions import (
    OneMinAPIError,
    OneMinError,
    OneMinMalformedResponseError,
    OneMinResultDownloadError,
)
from airflow_provider_onemin.hooks.answers import redact
from airflow_provider_onemin.hooks.signatures import link_without_query, without_signatures

__all__ = ["link_without_query", "without_signatures"]  # re-exported: the one way to drop a signature

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable

    from airflow_provider_onemin.hooks.onemin import OneMinHook

T = TypeVar("T")

#: Answers a signed link gives once it has expired (object stores differ).
EXPIRED_LINK_STATUSES = frozenset({401, 403, 404, 410})
# Shorter query values ("host", "3600") are not secret and would blank ordinary words.
_MIN_SECRET_LENGTH = 8


def may_have_expired(error: BaseException) -> bool:
    """True when ``error`` is an answer that a signed link gives once it has expired."""
    return isinstance(error, OneMinAPIError) and error.status_code in EXPIRED_LINK_STATUSES


def fresh_links(hook: OneMinHook, uuid: str | None) -> Callable[[], list[str]] | None:
    """A free poll of ``uuid`` that returns its download links as signed now; None without a uuid."""
    if not uuid:
        return None
    return lambda: hook.result_download_urls(hook.get_result(uuid) or {})


def store_with_fresh_link(
    store_one: Callable[[str], T],
    urls: list[str],
    index: int,
    *,
    uuid: str | None,
    renew: Callable[[], list[str]] | None,
    log: logging.Logger,
    api_key: str | None = None,
) -> tuple[T, list[str]]:
    """
    ``store_one(urls[index])``; if the link was refused as expired, renew the links once and retry.

    :param store_one: downloads and stores one result from a URL.
    :param urls: the download links in hand, one per result.
    :param index: the result to store, from 0.
    :param uuid: the paid generation, named in errors.
    :param renew: polls the generation and returns fresh links (:func:`fresh_links`), or None.
    :param log: where the renewal is logged.
    :param api_key: blanked out of any message, should an answer have echoed it.
    :return: what ``store_one`` returned, and the links now in hand (renewed ones serve the rest).
    :raises OneMinResultDownloadError: the download failed; retryable, it says the generation is paid.
    """
    url = urls[index]
    try:
        return store_one(url), urls
    except OneMinMalformedResponseError:
        raise  # not an image, or too large: it says so itself, and a fresh link would not change it
    except OneMinError as error:
        if renew is None or not may_have_expired(error):
            raise paid_download_error(
                error, url, uuid=uuid, index=index, count=len(urls), api_key=api_key
            ) from error
        refused = error
    log.warning(
        "The download link of result %d of generation %s was refused (HTTP %s), as a signed link is "
        "once it expires: polling the generation for a fresh one (free).",
        index + 1,
        uuid,
        getattr(refused, "status_code", None),
    )
    renewed = renew()
    if index >= len(renewed):
        raise paid_download_error(refused, url, uuid=uuid, index=index, count=len(urls), api_key=api_key)
    try:
        return store_one(renewed[index]), renewed
    except OneMinMalformedResponseError:
        raise
    except OneMinError as error:
        raise paid_download_error(
            error, renewed[index], uuid=uuid, index=index, count=len(renewed), api_key=api_key, renewed=True
        ) from error


def paid_download_error(
    error: OneMinError,
    url: str,
    *,
    uuid: str | None,
    index: int,
    count: int,
    api_key: str | None = None,
    renewed: bool = False,
) -> OneMinResultDownloadError:
    """
    The retryable error for a result of a paid generation that could not be downloaded.

    :param error: the hook's error for the download (after its own retries).
    :param url: the link that failed; only its scheme, host and path are shown.
    :param uuid: the generation.
    :param index: the result, from 0.
    :param count: how many results the generation has.
    :param api_key: blanked out, should an answer have echoed it.
    :param renewed: the link was already renewed once in this try.
    """
    link = link_without_query(url)
    reason = _reason(error, renewed)
    generation = f"Generation {uuid}" if uuid else "The generation"
    message = (
        f"{generation} is paid for, but downloading result {index + 1} of {count} from {link} failed: "
        f"{reason}. Nothing was stored for that result. The generation's uuid is recorded for this "
        "task instance: a retry (or a clear) of it polls the generation again for fresh download "
        "links and downloads again, without paying again (as long as its request renders the same)."
    )
    secrets = [*_query_secrets(url), api_key or ""]
    message, reason = redact(message, secrets), redact(reason, secrets)
    return OneMinResultDownloadError(
        message,
        uuid=uuid,
        index=index,
        status_code=getattr(error, "status_code", None),
        uri=link,
        reason=reason,
    )


def _reason(error: OneMinError, renewed: bool) -> str:
    """What went wrong, without the hook's advice for API calls (a refused link is not a bad key)."""
    attempts: Any = getattr(error, "attempts", None)
    tries = f" on each of {attempts} attempts" if isinstance(attempts, int) and attempts > 1 else ""
    if not isinstance(error, OneMinAPIError) or error.status_code is None:
        # What happened to the connection, without the hook's "gave up" preamble or its advice.
        text = getattr(error, "failure", None) or getattr(error, "last_error", None) or str(error)
        return text.rstrip(".") + tries
    reason = f"HTTP {error.status_code} ({error.summary or 'no details'}){tries}"
    if error.status_code in EXPIRED_LINK_STATUSES:
        reason += (
            ", also with a fresh link polled just before"
            if renewed
            else ", as a signed link answers once expired"
        )
    return reason


def _query_secrets(url: str) -> list[str]:
    """The query string of ``url`` and each of its longer values: what signs a link."""
    query = urlsplit(url).query
    values = [
        value for _, value in parse_qsl(query, keep_blank_values=True) if len(value) >= _MIN_SECRET_LENGTH
    ]
    return [query, *values] if query else []
