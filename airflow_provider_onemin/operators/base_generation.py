"""OneMinGenerationOperator: what every paid 1min.ai operator shares, from "validated" to "stored"."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Asset, Context

    from airflow_provider_onemin.hooks.onemin import OneMinHook
    from airflow_provider_onemin.reuse.claims import Claim
    from airflow_provider_onemin.reuse.key import ImageReads, RequestKey
    from airflow_provider_onemin.submissions.ledger import SubmissionLedger

__all__ = ["OneMinGenerationOperator"]


def _lineage(operator: OneMinGenerationOperator) -> OperatorLineage:
    from airflow_provider_onemin.lineage.report import operator_lineage

    return operator_lineage(operator)


class OneMinGenerationOperator(BaseOperator):
    """
    Base class of the operators that pay for one 1min.ai generation and store its results.

    A subclass defines :meth:`request_body` and :meth:`validate_request`; this class pays for the
    request at most once: the output checked before paying, reuse and its claims, the submission
    record and resume, the upload, waiting (in the triggerer when deferrable), delivery, lineage.
    What runs only in a task is imported where it is used: building the operator stays light.

    :param model: the model the request is for.
    :param onemin_conn_id: the Airflow connection holding the API key.
    :param output_path: store every result under this folder (see the subclass).
    :param dry_run: validate, log the exact request body and what it would cost in credits, and
        return ``[]``: nothing is uploaded, nothing paid, no paid or keyed request is made (only
        the public model list is read), and no asset event is emitted.
    :param reuse: pay once per distinct request (needs ``output_path``): docs/reuse.md.
    :param reuse_wait_timeout: with ``reuse``, the most seconds to wait for another task instance
        that is paying for the same request (default: the poll timeout plus 10 minutes).
    :param deferrable: wait for the generation in the triggerer, freeing the worker slot
        (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between result polls (default: the connection's).
    :param poll_timeout: seconds to wait for a generation (default: the connection's).
    :param min_defer_time: with ``deferrable``, the least time in seconds a task stays deferred
        (apache/airflow#72716); default: twice the worker's ``[workers] min_heartbeat_interval``.
    """

    def __init__(
        self,
        *,
        model: str,
        onemin_conn_id: str = "onemin_default",
        output_path: Any = None,
        dry_run: bool = False,
        reuse: bool = False,
        reuse_wait_timeout: float | None = None,
        deferrable: bool | None = None,
        poll_interval: float | None = None,
        poll_timeout: float | None = None,
        min_defer_time: float | None = None,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_onemin.delivery.outlets import literal_output_asset
        from airflow_provider_onemin.submissions.stores import with_record_release

        if "outlets" not in kwargs and not dry_run:
            asset = literal_output_asset(output_path)
            if asset is not None:
                kwargs["outlets"] = [asset]
        kwargs["on_success_callback"] = with_record_release(kwargs.get("on_success_callback"))
        super().__init__(**kwargs)
        self.model = model
        self.onemin_conn_id = onemin_conn_id
        self.output_path = output_path
        self.dry_run = dry_run
        self.reuse = reuse
        self.reuse_key: RequestKey | None = None
        self.reuse_wait_timeout = reuse_wait_timeout
        self.claim: Claim | None = None  # this task instance pays for its request under it
        #: This try's request identity (images by content), once computed (:meth:`_identity`).
        self.request_identity: RequestKey | None = None
        #: The key a stored generation is indexed under: the one it was paid for, else None.
        self.paid_key: RequestKey | None = None
        self._image_reads: tuple[dict[str, Any], ImageReads] | None = None
        if reuse and (output_path is None or output_path == ""):
            from airflow_provider_onemin.exceptions import OneMinConfigurationError

            raise OneMinConfigurationError(f"Task {self.task_id!r}: reuse=True needs output_path.")
        if deferrable is None:
            from airflow_provider_onemin.compat import conf

            deferrable = conf.getboolean("operators", "default_deferrable", fallback=False)
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.poll_timeout = poll_timeout
        if min_defer_time is not None:
            from airflow_provider_onemin.triggers.deferral import resolve_min_defer_time

            resolve_min_defer_time(min_defer_time)  # a bad value fails the DAG import, not the deferral
        self.min_defer_time = min_defer_time
        self.result_link: str | None = None

    # --- what a subclass asks for -------------------------------------------------------------

    def request_body(self) -> dict[str, Any]:
        """The request sent (``{type, model, promptObject}``), from the rendered arguments."""
        raise NotImplementedError

    def validate_request(self) -> dict[str, Any]:
        """Validate :meth:`request_body` against the model's rules; return it or raise."""
        raise NotImplementedError

    def result_transform(self) -> Callable[[bytes], bytes] | None:
        """What to do to each downloaded result before it is stored (``None``: store it as downloaded)."""
        return None

    # --- outputs ----------------------------------------------------------------------------

    @property
    def output_asset(self) -> Asset | None:
        """
        The Asset of the output folder, ``<scheme>://<path>``, when ``output_path`` is a literal.

        Use it to schedule a consumer DAG: ``schedule=[replace.output_asset]``. ``None`` when
        ``output_path`` is unset or templated.
        """
        from airflow_provider_onemin.delivery.outlets import literal_output_asset

        return literal_output_asset(self.output_path)

    # --- lineage (the OpenLineage provider calls these when it is installed) ----------------

    def get_openlineage_facets_on_start(self) -> OperatorLineage:
        """The images read and the request (see :mod:`airflow_provider_onemin.lineage`)."""
        return _lineage(self)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Also the stored results and the generation they come from."""
        return _lineage(self)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        """What the failed try read, and the generation it got, if any."""
        return _lineage(self)

    # --- execution --------------------------------------------------------------------------

    @cached_property
    def hook(self) -> OneMinHook:
        from airflow_provider_onemin.hooks.onemin import OneMinHook

        return OneMinHook(onemin_conn_id=self.onemin_conn_id)

    def execute(self, context: Context) -> list[str]:
        from airflow_provider_onemin.delivery.results import deliver_results
        from airflow_provider_onemin.lineage import metrics
        from airflow_provider_onemin.reuse.claims import claim_or_reuse, release_unpaid, wait_settings

        body = self.validate_request()
        if self.output_path is not None and self.output_path != "":
            from airflow_provider_onemin.storage.results import check_output_writable

            check_output_writable(self.output_path)  # no bucket, access denied...: refused before paying
        identity = self._identity(body)
        self.reuse_key = identity if self.reuse else None
        if self.dry_run:
            return self._dry_run(body)
        reused = None
        if self.reuse_key:  # an earlier generation; or claim the request, or wait for who did
            wait = lambda: wait_settings(self)  # noqa: E731 - read on a miss only
            reused, self.claim = claim_or_reuse(
                self.output_path, self.reuse_key, context["ti"], self.log, wait=wait
            )
        if reused:
            metrics.generation_reused(self.model, images=len(reused.stored_paths))
            return deliver_results(self, context, reused.record, reused)
        try:
            return self._resume_or_submit(context, self._ledger(context, body), body)
        except BaseException as error:
            release_unpaid(self.claim, error, self.log)
            raise

    def _resume_or_submit(
        self, context: Context, ledger: SubmissionLedger, body: dict[str, Any]
    ) -> list[str]:
        """What the record allows: poll an earlier try's generation to its end first, then pay if it may."""
        earlier = ledger.earlier_generation(retry_unknown_outcome=self.hook.settings.retry_unknown_outcome)
        if earlier is not None:
            self.claim and self.claim.paying()  # its generation may be running: never expires
            record = self._wait(ledger, earlier.uuid)
            if not ledger.may_submit_after(record):
                return self._end(context, ledger, record)
        return self._submit_and_wait(context, ledger, body)

    def _identity(self, body: dict[str, Any]) -> RequestKey:
        """
        This try's request identity (:func:`~airflow_provider_onemin.reuse.key.request_key`), its images read once: every
        problem with them is reported at once, and the upload sends the bytes hashed here.
        """
        from airflow_provider_onemin.inputs.uploads import read_local_images
        from airflow_provider_onemin.reuse.key import ImageReads, request_key

        if self.request_identity is None or self._image_reads is None or self._image_reads[0] != body:
            reads = ImageReads()
            read_local_images(body, reads.read)
            self.request_identity = request_key(
                self.model, body["promptObject"], feature=body["type"], image_digest=reads.digest
            )
            self._image_reads = (body, reads)
        return self.request_identity

    def _ledger(self, context: Context, body: dict[str, Any]) -> SubmissionLedger:
        from airflow_provider_onemin.submissions.ledger import (
            SubmissionLedger,
            request_hash,
            submission_store,
        )

        try_number = getattr(context.get("ti"), "try_number", None)
        return SubmissionLedger(
            submission_store(context),
            # Computed when a decision needs it: resuming this try's own generation reads no image.
            lambda: self._identity(body).digest,
            try_number=try_number,
            log=self.log,
            model=self.model,
            legacy_fingerprint=request_hash(self.model, body["promptObject"]),
        )

    def _submit_and_wait(self, context: Context, ledger: SubmissionLedger, body: dict[str, Any]) -> list[str]:
        """Pay for this try's request, wait for it to end, and finish."""
        record = self._submit(ledger, self._with_uploaded_images(body))
        if not self.hook.check_status(record):
            record = self._wait(ledger, record["uuid"])
        return self._end(context, ledger, record)

    def _end(self, context: Context, ledger: SubmissionLedger, record: dict[str, Any]) -> list[str]:
        """The generation ended: the ledger notes how; a failure raises, a success is finished."""
        from airflow_provider_onemin.delivery.results import deliver_results, note_generation
        from airflow_provider_onemin.exceptions import OneMinError
        from airflow_provider_onemin.reuse.claims import release

        ledger.record_outcome(record)
        note_generation(self, record)  # a failure's lineage names the generation too
        try:
            self.hook.check_status(record)
            self._check_usable(ledger, record)
        except OneMinError:
            release(self.claim, "its generation failed", self.log)  # nothing to copy: waiters pay
            raise
        self.paid_key = self._paid_key(ledger, record)
        results = deliver_results(self, context, record)
        release(self.claim, "stored and indexed", self.log)
        return results

    def _check_usable(self, ledger: SubmissionLedger, record: dict[str, Any]) -> None:
        """A success without any usable image is a final error; the record lets a clear pay anew."""
        from airflow_provider_onemin.hooks.records import empty_result_error, has_usable_result

        if not has_usable_result(record):
            ledger.generation_empty(record)
            raise empty_result_error(record)

    def _paid_key(self, ledger: SubmissionLedger, record: dict[str, Any]) -> RequestKey | None:
        """The key to index ``record``'s results under (:func:`~airflow_provider_onemin.delivery.results.paid_key`)."""
        from airflow_provider_onemin.delivery.results import paid_key

        if not self.reuse:
            return None
        return paid_key(ledger, record, self.reuse_key or self._identity(self.validate_request()), self.log)

    def _wait(self, ledger: SubmissionLedger, uuid: str) -> dict[str, Any]:
        """Poll ``uuid`` to its end (in the triggerer when deferrable) and return its last record."""
        from airflow_provider_onemin.operators._waiting import wait_for_end

        return wait_for_end(self, ledger, uuid)

    def _dry_run(self, body: dict[str, Any]) -> list[str]:
        """
        Check the local images, log the request that would be sent, send nothing, return ``[]``.

        The key is not read: only the connection's host, for the public model list that gives the
        credit estimate (docs/models.md). The task's outlets are dropped for this run: a success
        with no file stored must not announce new results to asset-scheduled DAGs.
        """
        from airflow_provider_onemin.operators._dry_run import log_dry_run

        log_dry_run(
            body,
            output_path=self.output_path,
            reuse_key=self.reuse_key,
            outlets=self.outlets,
            log=self.log,
            onemin_conn_id=self.onemin_conn_id,
        )
        if self.outlets:
            self.outlets = []
        return []

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, reuse_key: dict[str, Any] | None = None
    ) -> list[str]:
        """
        Go on on the worker after the trigger saw the generation end (or gave up waiting).

        A timeout raises a retryable error: the next try resumes the same generation from the
        task state store and defers again, without paying again. When the generation was an
        earlier try's, this try may still have its own request to pay for (the ledger says).
        ``reuse_key``: the request's key at submission (``dag.test()`` drops it: built again).
        """
        from airflow_provider_onemin.operators._waiting import ended_record
        from airflow_provider_onemin.reuse.claims import held_claim
        from airflow_provider_onemin.reuse.key import RequestKey

        body = self.validate_request()
        carried = RequestKey(**reuse_key) if self.reuse and reuse_key else None
        self.reuse_key = carried or (self._identity(body) if self.reuse else None)
        self.claim = self.reuse_key and held_claim(self.output_path, self.reuse_key, context["ti"])
        ledger = self._ledger(context, body)
        record = ended_record(self, ledger, event)  # raises on a timeout or a forgotten generation
        if ledger.has_record() and record.get("uuid") != ledger.recorded_uuid():
            # An event of another generation than the one on record (Airflow 3.0 hands a retry an
            # earlier try's event): it decides nothing; the record is judged as a new try would.
            self.log.warning(
                "The trigger event names generation %s, but the submission record names %s: "
                "going by the record.",
                record.get("uuid"),
                ledger.recorded_uuid(),
            )
            return self._resume_or_submit(context, ledger, body)
        if ledger.may_submit_after(record):
            return self._submit_and_wait(context, ledger, body)
        return self._end(context, ledger, record)

    def _defer(self, uuid: str) -> None:
        """Defer to the trigger that polls ``uuid``; the task resumes in :meth:`execute_complete`."""
        from airflow_provider_onemin.operators._waiting import defer_to_trigger

        defer_to_trigger(self, uuid)

    def _submit(self, ledger: SubmissionLedger, body: dict[str, Any]) -> dict[str, Any]:
        """Send the paid request once; the ledger records the intent before and the uuid after."""
        from airflow_provider_onemin.delivery.results import note_generation
        from airflow_provider_onemin.exceptions import OneMinError, OneMinUnknownOutcomeError
        from airflow_provider_onemin.reuse.claims import release

        if self.claim:
            self.claim.paying()  # before the intent: from now on a waiter never pays for this request
        submitted_at = ledger.record_intent()
        self.log.info(
            "Submitting the paid generation to %s (request %s, at %s).",
            self.hook.base_url,
            ledger.fingerprint[:12],
            submitted_at,
        )
        try:
            record = self.hook.run_feature({**body, "async": True})
        except OneMinError as error:
            ledger.submission_failed(error)
            if not isinstance(error, OneMinUnknownOutcomeError):
                release(self.claim, f"not charged: {type(error).__name__}", self.log)
            raise
        # Logged before it is saved: should saving fail, the log still names what was paid for.
        self.log.info("1min.ai accepted generation %s (status %s).", record["uuid"], record.get("status"))
        ledger.record_uuid(record["uuid"])
        self.claim and self.claim.generation(record["uuid"])
        note_generation(self, record)
        return record

    def _with_uploaded_images(self, body: dict[str, Any]) -> dict[str, Any]:
        """Upload local and object-storage images; return the body with their asset paths."""
        from airflow_provider_onemin.inputs.uploads import upload_local_images

        self._identity(body)  # the bytes the record's identity names are the bytes uploaded
        assert self._image_reads is not None
        return upload_local_images(self.hook, body, self.log, self._image_reads[1].read)
