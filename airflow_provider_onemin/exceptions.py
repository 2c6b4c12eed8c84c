"""
Errors raised by the 1min.ai provider.

One hierarchy, in the spirit of ``requests``: catch :class:`OneMinError` for everything, or a
narrower class for one kind of failure. Every message says what happened and what to do.

Errors that no retry can fix (bad input, a bad key, a rejected request, unsafe content, no
credits, a failed generation, and a paid request whose outcome is unknown) also derive from
:class:`~airflow.sdk.exceptions.AirflowFailException`, so the task fails at once instead of
spending Airflow retries (and, for a paid request, perhaps money) on them.

No message ever includes the API key or request headers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_onemin.compat import AirflowException, AirflowFailException


class OneMinError(AirflowException):
    """Base class of every error raised by this provider."""

    #: True when retrying cannot help: the task fails without using Airflow retries.
    final: bool = False

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword-only arguments; rebuild from the message and attributes so the
        # error survives pickling (process pools, Airflow's own serialisation).
        return _rebuild_error, (type(self), str(self), dict(self.__dict__))


def _rebuild_error(cls: type[OneMinError], message: str, attributes: dict[str, Any]) -> OneMinError:
    error = Exception.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(attributes)
    return error


class OneMinFinalError(OneMinError, AirflowFailException):
    """An error that no retry can fix; fails the task without Airflow retries."""

    final = True


class OneMinConfigurationError(OneMinFinalError):
    """The connection or operator is misconfigured (no API key, bad base URL, unknown model)."""


class OneMinValidationError(OneMinFinalError):
    """
    The request was refused locally, before any call to 1min.ai: nothing was uploaded or paid.

    :param violations: one ``"field.path: rule"`` line per problem found; all are reported at once.
    """

    def __init__(self, violations: Sequence[str], *, summary: str | None = None) -> None:
        self.violations = list(violations)
        head = summary or f"Invalid Background Replacer request ({len(self.violations)} problem(s))"
        body = "\n".join(f"  - {line}" for line in self.violations)
        super().__init__(f"{head}; nothing was sent to 1min.ai. Fix these and run again:\n{body}")


class OneMinInputFileError(OneMinValidationError):
    """A local or object-storage input image is missing, too large or not JPEG/PNG/WebP."""


class OneMinAPIError(OneMinError):
    """
    1min.ai answered with an HTTP error.

    :param status_code: the HTTP status.
    :param error_code: the API's ``errorCode`` (or ``error.code``) when the body carried one.
    :param api_message: the API's own message, when the body carried one.
    :param details: the decoded ``details`` of the error body, if any.
    :param summary: the answer in one line (error code and message, or an HTML page's title).
    """

    hint = "See the message from 1min.ai above."

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_code: str | None = None,
        api_message: str | None = None,
        details: Any = None,
        method: str | None = None,
        url: str | None = None,
        summary: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.summary = summary
        self.error_code = error_code
        self.api_message = api_message
        self.details = details
        self.method = method
        self.url = url
        super().__init__(message)


class OneMinAuthenticationError(OneMinAPIError, OneMinFinalError):
    """401: the API key was missing or refused."""

    hint = (
        "Check the API key in the password field of the Airflow connection "
        "(1min.ai > API keys); the key itself is never shown in logs."
    )


class OneMinRequestRejectedError(OneMinAPIError, OneMinFinalError):
    """400 (or another 4xx): 1min.ai refused the request; its ``errorCode`` says why."""

    hint = "Fix the request (the errorCode and message above say what is wrong) and run again."


class OneMinUnsafeContentError(OneMinRequestRejectedError):
    """422: the prompt or an image was refused as unsafe."""

    hint = "Change the prompt, negative prompt or source image; retrying the same request will not pass."


class OneMinOutOfCreditsError(OneMinAPIError, OneMinFinalError):
    """The account has no credits left (whatever status carried it)."""

    hint = "Top up the 1min.ai account (or use another key), then clear the task."


class OneMinRateLimitError(OneMinAPIError):
    """429: rate limited. Retried with backoff; raised when the retry budget is spent."""

    hint = (
        "Too many requests for the account's rate limit. Lower the concurrency (an Airflow pool) "
        "or raise max_attempts / max_retry_wait in the connection's extra."
    )

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class OneMinServerError(OneMinAPIError):
    """5xx (including Cloudflare's 522/524): a problem on 1min.ai's side."""

    hint = "1min.ai or a proxy in front of it failed; retry later."


class OneMinTransportError(OneMinError):
    """
    The connection failed (refused, reset, timed out) with no answer from 1min.ai.

    :param message: the whole message, with the request and what to do.
    :param failure: what happened to the connection alone (``the client lost the connection
        ...``), for a message of another caller's own (a result download's), or None.
    """

    def __init__(self, message: str, *, failure: str | None = None) -> None:
        super().__init__(message)
        self.failure = failure


class OneMinUnknownOutcomeError(OneMinFinalError):
    """
    A paid request may have reached 1min.ai, but its answer was lost.

    The generation may have been charged, so it is not sent again unless the connection's extra
    sets ``"retry_unknown_outcome": true``. Whatever is known (when it was sent, the HTTP status
    if one came back, the uuid if one was seen) is in the message and in the attributes.
    """

    def __init__(
        self,
        message: str,
        *,
        uuid: str | None = None,
        sent_at: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.uuid = uuid
        self.sent_at = sent_at
        self.status_code = status_code
        super().__init__(message)


class OneMinGenerationFailedError(OneMinFinalError):
    """The API answered, but the generation's status is FAILURE (or FAILED, ERROR)."""

    def __init__(self, message: str, *, uuid: str | None = None, status: str | None = None) -> None:
        self.uuid = uuid
        self.status = status
        super().__init__(message)


class OneMinEmptyResultError(OneMinGenerationFailedError):
    """
    1min.ai said SUCCESS but gave no usable image (none listed, or every one withheld).

    Final: the generation was probably charged, and a retry would resume the same empty
    generation. The submission record notes it as failed, so a clear of the task pays for a fresh one.
    """


class OneMinMalformedResponseError(OneMinError):
    """The answer was not JSON, was truncated, or did not have the expected shape."""


class OneMinRecordMissingError(OneMinMalformedResponseError):
    """1min.ai answered ``aiRecord: null`` for a generation, several polls in a row."""

    def __init__(self, message: str, *, uuid: str | None = None) -> None:
        self.uuid = uuid
        super().__init__(message)


class OneMinTimeoutError(OneMinError):
    """A generation did not finish within the poll timeout. Re-polling later is free."""

    def __init__(self, message: str, *, uuid: str | None = None) -> None:
        self.uuid = uuid
        super().__init__(message)


class OneMinMalformedSubmissionError(OneMinUnknownOutcomeError, OneMinMalformedResponseError):
    """
    The answer to a paid submission was garbled (not JSON, truncated, wrong shape).

    It is both a malformed answer and an unknown outcome: the generation may have been charged,
    so it is not re-sent (unless ``retry_unknown_outcome`` is set).
    """


class OneMinReuseIndexError(OneMinError):
    """
    The results are stored but the reuse index could not be written or read back (``reuse=True``).

    Retryable: a retry of the task resumes the paid generation and writes the index, without paying
    again.
    """


class OneMinCostCapError(OneMinFinalError):
    """
    A run would pay for more new images than its cap allows; nothing was uploaded or paid.

    :param new_images: images the run would pay for.
    :param cap: the most it may pay for.
    """

    def __init__(self, message: str, *, new_images: int, cap: int) -> None:
        self.new_images = new_images
        self.cap = cap
        super().__init__(message)


class OneMinCreditCapError(OneMinCostCapError):
    """
    A run would spend more credits than ``max_credits`` allows, or an unknown amount under that
    cap without ``allow_unknown_credits``; nothing was uploaded or paid.

    :param credits: the credits estimated for the lines whose estimate is known.
    :param unknown_lines: lines to pay for whose credits are unknown.
    :param max_credits: the cap.
    :param new_images: images the run would pay for.
    """

    def __init__(
        self, message: str, *, credits: float, unknown_lines: int, max_credits: float, new_images: int
    ) -> None:
        self.credits = credits
        self.unknown_lines = unknown_lines
        self.max_credits = max_credits
        super().__init__(message, new_images=new_images, cap=int(max_credits))


class OneMinStorageError(OneMinError):
    """
    Object storage failed: reading an input image, checking the output folder or storing results.

    Retryable unless a subclass says otherwise: throttling, a 5xx or a network error passes, and a
    failure after the generation was paid for is worth a retry (it resumes that generation).

    :param uri: the object or folder concerned, without connection id.
    :param reason: what went wrong, in a few words (``"the bucket does not exist"``).
    """

    def __init__(self, message: str, *, uri: str | None = None, reason: str | None = None) -> None:
        self.uri = uri
        self.reason = reason
        super().__init__(message)


class OneMinOutputLocationError(OneMinStorageError, OneMinConfigurationError):
    """The output folder cannot be written (no bucket, access denied, bad credentials); nothing was paid."""


class OneMinResultStorageError(OneMinStorageError):
    """Storing the results of a paid generation failed; a retry resumes it without paying again."""


class OneMinResultDownloadError(OneMinResultStorageError):
    """
    Downloading a result of a paid generation from 1min.ai failed, after the hook's own retries.

    Retryable, whatever the answer was (a 403 included: a signed link expires): the generation's
    uuid is recorded for the task instance, so a retry (or a clear) polls it again for fresh links
    and downloads again, without paying again. Nothing is left half-written for that result.

    :param uuid: the generation.
    :param index: the result whose download failed, from 0.
    :param status_code: the HTTP status of the last answer, if one came.
    """

    def __init__(
        self,
        message: str,
        *,
        uuid: str | None,
        index: int,
        status_code: int | None = None,
        uri: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.uuid = uuid
        self.index = index
        self.status_code = status_code
        super().__init__(message, uri=uri, reason=reason)


class OneMinSubmissionStoreError(OneMinError):
    """
    The submission record could not be read or saved (an Airflow Variable on Airflow < 3.3).

    Raised before paying when the record of the intent did not stick, so nothing was charged on
    the strength of it. Not final: the next try reads the store again.
    """


class OneMinReuseWaitError(OneMinError):
    """
    Another task instance claimed the same request (``reuse=True``) and has not stored its result
    within the wait. Nothing was uploaded or paid by this task; the message says how to go on.

    :param claim: the claim's path in the output storage.
    """

    def __init__(self, message: str, *, claim: str | None = None) -> None:
        self.claim = claim
        super().__init__(message)


class OneMinClaimLostError(OneMinError):
    """
    This task's claim on its request expired before it paid and another task took it over.
    Nothing was sent or paid; a retry waits for the other task's result.
    """


class OneMinRenditionError(OneMinValidationError):
    """
    A source image cannot make its channel's rendition (not a cut-out where one is needed, too
    small), or a rendition breaks its channel's rule (docs/renditions.md). Nothing was stored.

    :param violations: one line per problem; all are reported at once.
    """

    def __init__(self, violations: Sequence[str], *, summary: str | None = None) -> None:
        self.violations = list(violations)
        head = summary or f"Renditions refused ({len(self.violations)} problem(s)); nothing was stored"
        body = "\n".join(f"  - {line}" for line in self.violations)
        OneMinFinalError.__init__(self, f"{head}. Fix these and run again:\n{body}")
