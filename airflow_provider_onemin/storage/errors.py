"""
Why an object-storage call failed, in words a user can act on.

fsspec filesystems raise Python's ``OSError`` family: s3fs turns S3's ``NoSuchKey`` and
``NoSuchBucket`` into ``FileNotFoundError`` and ``AccessDenied``, ``InvalidAccessKeyId`` and
``SignatureDoesNotMatch`` all into ``PermissionError``, and chains the store's own error (botocore's
``ClientError``) as the cause. :func:`explain` reads the whole chain, the store's error code first,
so "access denied" and "bad credentials" are told apart, and a throttled or unreachable store
(worth a retry) from a wrong path (not worth one).

Google Cloud Storage (gcsfs) and Azure Blob (adlfs) say it differently: gcsfs raises
``FileNotFoundError`` for a 404, a bare ``OSError("Forbidden: ...")`` for a 403 and its own
``HttpError`` (with a ``code``) for the rest; adlfs lets the Azure SDK's ``HttpResponseError`` (with
``status_code`` and ``error_code``) through, or wraps it, sometimes in a bare ``RuntimeError`` whose
text alone names the code (``ErrorCode:ContainerNotFound``).

Nothing here imports botocore, gcsfs or the Azure SDK: the store's errors are recognised by their
attributes and class names, which keeps this module light and usable for any fsspec filesystem.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "missing_bucket",
    "missing",
    "not_a_file",
    "access_denied",
    "bad_credentials",
    "throttled",
    "server_error",
    "network",
    "other",
]

#: Kinds that pass by themselves: Airflow's retries are worth spending on them.
TRANSIENT_KINDS = frozenset({"throttled", "server_error", "network"})

# S3's, then Azure's (a container is Azure's bucket).
_MISSING_BUCKET_CODES = frozenset({"NoSuchBucket", "ContainerNotFound", "ContainerBeingDeleted"})
_MISSING_CODES = frozenset(
    {"NoSuchKey", "NotFound", "NoSuchVersion", "404", "BlobNotFound", "ResourceNotFound"}
)
# Codes that mean the credentials themselves were refused (AWS and S3-compatible stores).
_BAD_CREDENTIALS_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidToken",
        "TokenRefreshRequired",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "AuthFailure",
        "InvalidSecurity",
        "NotSignedUp",
        # Azure: a wrong account key or SAS signature, an expired SAS.
        "AuthenticationFailed",
        "InvalidAuthenticationInfo",
        "NoAuthenticationInformation",
    }
)
_ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "AccountProblem",
        "Forbidden",
        "403",
        # Azure: the credentials are valid but lack the permission (RBAC role, SAS permissions, firewall).
        "AuthorizationFailure",
        "AuthorizationPermissionMismatch",
        "AuthorizationResourceTypeMismatch",
        "AuthorizationSourceIPMismatch",
        "InsufficientAccountPermissions",
    }
)
# botocore's own list of throttling codes, plus S3's SlowDown.
_THROTTLING_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "ProvisionedThroughputExceededException",
        "PriorRequestNotComplete",
        "429",
        # Azure: the account's scalability targets were exceeded.
        "ServerBusy",
    }
)
_TIMEOUT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "OperationTimedOut"})
# Exceptions (by class name, anywhere in the MRO) raised when no request got an answer.
_NETWORK_ERRORS = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ProxyConnectionError",
        "HTTPClientError",
        "ClientConnectorError",
        "ClientOSError",
        "ServerDisconnectedError",
        "ClientPayloadError",
        "ServerTimeoutError",
        # The Azure SDK's: no answer (ServiceRequestError) or a broken one (ServiceResponseError).
        "ServiceRequestError",
        "ServiceResponseError",
    }
)
_NO_CREDENTIALS_ERRORS = frozenset(
    {
        "NoCredentialsError",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        # google-auth: no credentials found, or a token that could not be refreshed.
        "DefaultCredentialsError",
        "RefreshError",
        # azure-identity / azure-core: no token could be had for the credential.
        "ClientAuthenticationError",
        "CredentialUnavailableError",
    }
)
# Azure's error text names its code ("ErrorCode:ContainerNotFound") where the SDK's attribute is lost.
_AZURE_CODE_IN_TEXT = re.compile(r"ErrorCode:\s*(\w+)")
# Azure answers a wrong key or signature with this text (Azurite with the code AuthorizationFailure).
_AZURE_AUTHENTICATION_TEXT = "failed to authenticate the request"

_REASONS: dict[str, str] = {
    "missing_bucket": "the bucket does not exist",
    "missing": "it does not exist",
    "not_a_file": "it is a folder, not a file",
    "access_denied": "access denied: the credentials were accepted but are not allowed to do this",
    "bad_credentials": "the credentials were refused (unknown access key, wrong secret, expired token, or none found)",
    "throttled": "the store is throttling requests",
    "server_error": "the store failed on its side (5xx)",
    "network": "the store could not be reached (network error or timeout)",
    "other": "the store refused it",
}


@dataclass(frozen=True)
class StorageFailure:
    """
    What an object-storage error means.

    :param kind: one of :data:`Kind`.
    :param detail: the store's error code and message (``AccessDenied: Access Denied``), or the
        exception's type and text when the store said nothing.
    :param code: the store's error code, when it sent one.
    """

    kind: Kind
    detail: str
    code: str | None = None

    @property
    def transient(self) -> bool:
        """True when waiting and trying again can help (throttling, 5xx, network)."""
        return self.kind in TRANSIENT_KINDS

    @property
    def reason(self) -> str:
        """The cause in plain words."""
        return _REASONS[self.kind]

    def __str__(self) -> str:
        return f"{self.reason} ({self.detail})"

    def hint(self, conn_id: str | None) -> str:
        """What to do about it, naming the connection whose credentials were used."""
        who = (
            f"the credentials of Airflow connection {conn_id!r}"
            if conn_id
            else "the worker's default credentials (no connection id in the URI)"
        )
        if self.kind == "bad_credentials":
            return f"Fix {who}."
        if self.kind == "access_denied":
            return f"Grant {who} the permission this needs, or use another location."
        if self.kind == "missing_bucket":
            return "Create the bucket or fix the path."
        if self.transient:
            return "It usually passes: Airflow's retries try again."
        return ""


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and its causes and contexts, each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _kind_of_answer(code: str, status: int | None) -> Kind | None:
    if code in _MISSING_BUCKET_CODES:
        return "missing_bucket"
    if code in _BAD_CREDENTIALS_CODES:
        return "bad_credentials"
    if code in _THROTTLING_CODES or status == 429:
        return "throttled"
    if code in _TIMEOUT_CODES:
        return "network"
    if code in _MISSING_CODES or status == 404:
        return "missing"
    if code in _ACCESS_DENIED_CODES or status == 403:
        return "access_denied"
    if status is not None and status >= 500:
        return "server_error"
    return None


def _class_names(error: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(error).__mro__}


def _status_answer(exc: BaseException) -> StorageFailure | None:
    """The answer of Azure (``status_code``, ``error_code``) or GCS (gcsfs ``HttpError.code``) in ``exc``."""
    text = str(exc)
    first_line = text.splitlines()[0] if text else type(exc).__name__
    code = getattr(exc, "error_code", None)
    code = getattr(code, "value", code)  # the Azure SDK's StorageErrorCode, a str enum
    if code is None and (match := _AZURE_CODE_IN_TEXT.search(text)):
        code = match.group(1)
    status = getattr(exc, "status_code", None)
    if status is None and "HttpError" in _class_names(exc):
        status = getattr(exc, "code", None)
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int):
        status = None
    if code is None and status is None:
        return None
    code = str(code) if code else ""
    detail = f"{code}: {first_line}" if code else f"HTTP {status}: {first_line}"
    if _AZURE_AUTHENTICATION_TEXT in text or status == 401:
        return StorageFailure("bad_credentials", detail, code or None)
    kind = _kind_of_answer(code, status)
    return StorageFailure(kind or "other", detail, code or None) if (kind or code) else None


def explain(error: BaseException) -> StorageFailure:
    """
    Classify an exception raised by an fsspec filesystem (or by the store's client library).

    :param error: what the filesystem raised.
    """
    chain = list(_chain(error))
    for exc in chain:  # the store's own answer says most
        response = getattr(exc, "response", None)
        if isinstance(response, dict) and isinstance(response.get("Error"), dict):
            code = str(response["Error"].get("Code") or "")
            message = str(response["Error"].get("Message") or "")
            status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
            kind = _kind_of_answer(code, status if isinstance(status, int) else None)
            detail = f"{code}: {message}" if message and message != code else code or str(exc)
            return StorageFailure(kind or "other", detail, code or None)
    for exc in chain:  # Azure's and GCS's answers
        if (failure := _status_answer(exc)) is not None:
            return failure
    for exc in chain:
        names = _class_names(exc)
        if names & _NO_CREDENTIALS_ERRORS:
            return StorageFailure("bad_credentials", f"{type(exc).__name__}: {exc}")
        if names & _NETWORK_ERRORS or isinstance(exc, (ConnectionError, TimeoutError)):
            return StorageFailure("network", f"{type(exc).__name__}: {exc}")
    for exc in chain:
        if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
            return StorageFailure("missing", f"{type(exc).__name__}: {exc}")
        if isinstance(exc, IsADirectoryError):
            return StorageFailure("not_a_file", f"{type(exc).__name__}: {exc}")
        if isinstance(exc, PermissionError) or (
            type(exc) is OSError and str(exc).startswith("Forbidden:")  # gcsfs's 403
        ):
            return StorageFailure("access_denied", f"{type(exc).__name__}: {exc}")
    return StorageFailure("other", f"{type(error).__name__}: {error}")
