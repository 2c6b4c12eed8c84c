"""BackgroundReplacerOperator: keep the product in a photo, regenerate the scene behind it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

# Only what a DAG file needs to build the operator is imported here: everything the task does
# when it runs (the client, storage, reuse, the submission record, metrics) is imported where it
# is used, so that parsing a DAG does not pay for it.
from airflow_provider_onemin.inputs.arguments import PROMPT_FIELDS, is_templated, prompt_object_of
from airflow_provider_onemin.links.results import OneMinResultLink
from airflow_provider_onemin.schemas.features import DEFAULT_MODEL, FEATURE_BACKGROUND_REPLACER

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Asset, Context

    from airflow_provider_onemin.exceptions import OneMinTimeoutError
    from airflow_provider_onemin.hooks.onemin import OneMinHook
    from airflow_provider_onemin.reuse.claims import Claim
    from airflow_provider_onemin.reuse.key import ImageReads, RequestKey
    from airflow_provider_onemin.submissions.ledger import SubmissionLedger

__all__ = ["PROMPT_FIELDS", "BackgroundReplacerOperator"]


class BackgroundReplacerOperator(BaseOperator):
    """
    Replace the background of a product photo with the 1min.ai Background Replacer.

    The arguments are validated against the JSON Schema of ``model`` shipped with this package:
    when the DAG is parsed if nothing is templated, and always after rendering, before any call.
    Local and object-storage images are checked and uploaded first. The generation is submitted
    once (in the API's async mode), its uuid is kept in the task state store so that a retry of
    the same task instance resumes it instead of paying again, and the result paths are returned
    (XCom ``return_value``). Also pushed: ``ai_record_uuid``, ``result_urls``, ``seeds`` and, when
    ``output_path`` is set, ``stored_paths`` (plain URIs) and ``storage_conn_id``.

    Every model of docs/models.md is served (``model``): ``ideogram-3`` (the default),
    ``clipdrop``, ``gpt-image-1``, ``gpt-image-1-mini``, ``gpt-image-2`` and ``recraft``. Each
    takes only its own fields: an argument the model has no field for is refused before paying.

    :param prompt: the new background scene. (templated)
    :param image_url: the source image: an asset path on 1min.ai, an ``http(s)://`` URL, a local
        file (``/path`` or ``file://``) or an object-storage URL (``s3://``...). (templated)
    :param num_images: how many images, sent in the model's own field: ideogram-3 1 to 8
        (``num_images``), gpt-image-1/-mini 1 to 10 (``n``), recraft 1 (``n``); clipdrop and
        gpt-image-2 make one. (templated)
    :param rendering_speed: FLASH, TURBO, DEFAULT or QUALITY (API default DEFAULT).
    :param magic_prompt: AUTO, ON or OFF (API default AUTO).
    :param style_type: AUTO, GENERAL, REALISTIC, DESIGN or FICTION (API default AUTO); must be AUTO
        or GENERAL with a preset or style references.
    :param style_preset: one of the 62 presets; excludes ``style_reference_images``. (templated)
    :param style_reference_images: up to 5 images, same kinds as ``image_url``; JPEG, PNG or WebP,
        10 MiB together. Excludes ``style_preset``. (templated)
    :param negative_prompt: what to keep out of the background. (templated)
    :param seed: 0 to 2147483647, for reproducible results. (templated)
    :param size: gpt-image-1/-mini: ``1024x1024``, ``1024x1536`` or ``1536x1024`` (required);
        gpt-image-2: ``WxH`` on its grid (required; docs/models.md). (templated)
    :param quality: gpt-image-1/-mini: low, medium or high (``medium`` sent when not given);
        gpt-image-2: low, medium or high (required). (templated)
    :param background: gpt-image-1/-mini, gpt-image-2: auto, opaque or transparent. (templated)
    :param output_format: gpt-image-1/-mini: png, jpeg or webp. (templated)
    :param output_compression: gpt-image-1/-mini: 0 to 100. (templated)
    :param style: recraft: a style name of ``GET /api/recraft/styles``. (templated)
    :param substyle: recraft: a substyle of that style. (templated)
    :param model: the Background Replacer model (docs/models.md); one schema file per model under
        ``schemas/background_replacer/``. An unknown model fails when the DAG is parsed.
    :param onemin_conn_id: the Airflow connection holding the API key.
    :param output_path: store every result under this folder: an ``ObjectStoragePath``, a URL
        (``file:///data/out``, ``s3://bucket/prefix``, any fsspec scheme) or an absolute local path.
        Files are named ``<dag>/<run>/<task>[/map-<k>]/result-<i>.<ext>`` under it and appear whole or
        not at all; their URIs go to XCom ``stored_paths``. (templated)
    :param dry_run: validate the arguments and local images, render, log the exact request body and
        return ``[]``: nothing is uploaded, nothing paid, no request is made, and no asset event is
        emitted (the outlets are dropped for that run). Says "would pay for N image(s)" or, with
        ``reuse``, "would reuse generation X".
    :param reuse: pay once per distinct request (needs ``output_path``): first look for an earlier
        stored generation of the same request under ``output_path`` (images compared by content;
        docs/reuse.md); on a hit nothing is uploaded or paid, the files are copied to this task
        instance's names and XCom ``reused_from`` names the earlier generation. Identical requests
        running at the same time pay once: the first claims the request (next to the index), the
        others wait for its result and copy it.
    :param reuse_wait_timeout: with ``reuse``, the most seconds to wait for another task instance
        that is paying for the same request (default: the poll timeout plus 10 minutes).
    :param deferrable: wait for the generation in the triggerer, freeing the worker slot
        (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between result polls (default: the connection's, 5 s).
    :param poll_timeout: seconds to wait for a generation (default: the connection's, 1 h).
    :param min_defer_time: with ``deferrable``, the least time in seconds a task stays deferred,
        even when its generation ends sooner, so that Airflow has processed the end of the
        deferring run before the task resumes (Airflow's stale-deferral race, apache/airflow#72716).
        Default: twice the worker's ``[workers] min_heartbeat_interval``; 0 turns the guard off.

    **Assets.** With a literal ``output_path`` and no ``outlets`` given, the operator declares
    the output folder's Asset (:attr:`output_asset`) itself; with a templated one or
    ``.partial()``, pass ``outlets`` (an ``AssetAlias`` works). Events carry ``prompt``, ``seed``,
    ``seeds``, ``uuid``, ``count``, ``stored_paths`` and ``storage_conn_id`` (docs/storage.md).

    **Extra link** "1min.ai result": the results viewer's page when something was stored (Airflow
    3.1+; the first stored file on 3.0), else 1min.ai's asset URL of the first result (unsigned:
    no signed link is ever written to XCom, trigger events, the reuse index or logs).
    Also pushed for the viewer: ``prompt`` and ``model``.
    """

    template_fields: Sequence[str] = (
        "prompt",
        "image_url",
        "negative_prompt",
        "style_reference_images",
        "style_preset",
        "seed",
        "num_images",
        "size",
        "quality",
        "background",
        "output_format",
        "output_compression",
        "style",
        "substyle",
        "output_path",
    )
    template_fields_renderers = {"style_reference_images": "json"}
    operator_extra_links = (OneMinResultLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        prompt: str,
        image_url: str,
        num_images: int | str = 1,
        rendering_speed: str | None = None,
        magic_prompt: str | None = None,
        style_type: str | None = None,
        style_preset: str | None = None,
        style_reference_images: list[str] | None = None,
        negative_prompt: str | None = None,
        seed: int | str | None = None,
        size: str | None = None,
        quality: str | None = None,
        background: str | None = None,
        output_format: str | None = None,
        output_compression: int | str | None = None,
        style: str | None = None,
        substyle: str | None = None,
        model: str = DEFAULT_MODEL,
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
        from airflow_provider_onemin.submissions.ledger import with_record_release

        if "outlets" not in kwargs and not dry_run:
            asset = literal_output_asset(output_path)
            if asset is not None:
                kwargs["outlets"] = [asset]
        kwargs["on_success_callback"] = with_record_release(kwargs.get("on_success_callback"))
        super().__init__(**kwargs)
        self.prompt = prompt
        self.image_url = image_url
        self.num_images = num_images
        self.rendering_speed = rendering_speed
        self.magic_prompt = magic_prompt
        self.style_type = style_type
        self.style_preset = style_preset
        self.style_reference_images = style_reference_images
        self.negative_prompt = negative_prompt
        self.seed = seed
        self.size = size
        self.quality = quality
        self.background = background
        self.output_format = output_format
        self.output_compression = output_compression
        self.style = style
        self.substyle = substyle
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
        if not any(is_templated(getattr(self, arg)) for arg in PROMPT_FIELDS):
            # A bad literal fails the DAG import, with the same message as at run time.
            self.validate_request()
        else:
            from airflow_provider_onemin.schemas.models import model_spec

            model_spec(model)  # an unknown model fails the DAG import even when values are templated

    # --- request building -------------------------------------------------------------------

    def arguments(self) -> dict[str, Any]:
        """The (rendered) arguments that make the promptObject, by argument name."""
        return {argument: getattr(self, argument) for argument in PROMPT_FIELDS}

    def prompt_object(self) -> dict[str, Any]:
        """The promptObject of ``model`` from the (rendered) arguments (``prompt_object_of``)."""
        return prompt_object_of(self.arguments(), self.model)

    def request_body(self, prompt_object: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "type": FEATURE_BACKGROUND_REPLACER,
            "model": self.model,
            "promptObject": self.prompt_object() if prompt_object is None else prompt_object,
        }

    def validate_request(self) -> dict[str, Any]:
        """Validate the request against the model's schema; return the body or raise."""
        from airflow_provider_onemin.inputs.arguments import argument_violations
        from airflow_provider_onemin.schemas.validation import validate_request

        body = self.request_body()
        validate_request(body, self.model, also=argument_violations(self.arguments(), self.model))
        return body

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
        from airflow_provider_onemin.lineage.report import operator_lineage

        return operator_lineage(self)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Also the stored results and the generation they come from."""
        from airflow_provider_onemin.lineage.report import operator_lineage

        return operator_lineage(self)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        """What the failed try read, and the generation it got, if any."""
        from airflow_provider_onemin.lineage.report import operator_lineage

        return operator_lineage(self)

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
            self.request_identity = request_key(self.model, body["promptObject"], image_digest=reads.digest)
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
        from airflow_provider_onemin.exceptions import OneMinEmptyResultError
        from airflow_provider_onemin.hooks.records import result_fields

        if any(isinstance(path, str) and path for path in result_fields(record)[0]):
            return
        uuid = record.get("uuid")
        ledger.generation_empty(record)
        raise OneMinEmptyResultError(
            f"1min.ai reported generation {uuid} as {record.get('status')} but returned no usable "
            "image (none listed, e.g. every one withheld as unsafe). It was probably charged: check "
            "the 1min.ai history. A retry would get the same empty answer, so the task fails now; "
            "clear this task instance to pay for a fresh generation (generation "
            f"{uuid} is not resumed again).",
            uuid=uuid,
            status=record.get("status"),
        )

    def _paid_key(self, ledger: SubmissionLedger, record: dict[str, Any]) -> RequestKey | None:
        """
        The key to index ``record``'s results under: the identity it was paid for, never one this
        try computed for a request that may differ (a photo replaced since, a template rendered
        otherwise). ``None`` when the record cannot say which: nothing is indexed then.
        """
        if not self.reuse:
            return None
        uuid = record.get("uuid")
        paid = ledger.paid_identity(uuid)
        key = self.reuse_key or self._identity(self.validate_request())
        if paid is not None and paid == key.digest:
            return key
        self.log.warning(
            "Generation %s is delivered but not indexed for reuse: %s",
            uuid,
            "its submission record does not say which request it was paid for (written by an earlier version)"
            if paid is None
            else f"it was paid for as request {paid[:12]}, and this attempt's request is {key.digest[:12]}",
        )
        return None

    def _wait(self, ledger: SubmissionLedger, uuid: str) -> dict[str, Any]:
        """Poll ``uuid`` to its end (in the triggerer when deferrable) and return its last record."""
        from airflow_provider_onemin.exceptions import OneMinRecordMissingError

        if self.deferrable:
            self._defer(uuid)
        try:
            return self.hook.wait_for_end(uuid, poll_interval=self.poll_interval, timeout=self.poll_timeout)
        except OneMinRecordMissingError as missing:
            ledger.generation_missing(missing)

    def _dry_run(self, body: dict[str, Any]) -> list[str]:
        """
        Check the local images, log the request that would be sent, send nothing, return ``[]``.

        The connection is not even read. The task's outlets are dropped for this run: a success
        with no file stored must not announce new results to asset-scheduled DAGs.
        """
        from airflow_provider_onemin.operators._dry_run import log_dry_run

        log_dry_run(
            body, output_path=self.output_path, reuse_key=self.reuse_key, outlets=self.outlets, log=self.log
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
        from airflow_provider_onemin.exceptions import OneMinRecordMissingError, OneMinTimeoutError
        from airflow_provider_onemin.reuse.claims import held_claim
        from airflow_provider_onemin.reuse.key import RequestKey
        from airflow_provider_onemin.triggers.background_replacer import ended_record_from_event

        body = self.validate_request()
        carried = RequestKey(**reuse_key) if self.reuse and reuse_key else None
        self.reuse_key = carried or (self._identity(body) if self.reuse else None)
        self.claim = self.reuse_key and held_claim(self.output_path, self.reuse_key, context["ti"])
        ledger = self._ledger(context, body)
        try:
            record = ended_record_from_event(event or {})
        except OneMinRecordMissingError as missing:
            ledger.generation_missing(missing)
        except OneMinTimeoutError as timeout:
            # Airflow 3.0 hands every retry this same event (its next_method outlives the failed
            # try), so the retry would never resume: one free look at the generation first.
            record = self._ended_after_timeout(timeout)
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

    def _ended_after_timeout(self, timeout: OneMinTimeoutError) -> dict[str, Any]:
        """The generation's record if it has ended since the wait timed out; else the timeout."""
        from airflow_provider_onemin.hooks.records import generation_state

        record = self.hook.get_result(timeout.uuid) if timeout.uuid else None
        if record is None or generation_state(record) == "pending":
            raise timeout
        return record

    def _defer(self, uuid: str) -> None:
        from airflow_provider_onemin.triggers.background_replacer import OneMinResultTrigger
        from airflow_provider_onemin.triggers.deferral import resolve_min_defer_time

        settings = self.hook.settings
        poll_interval = settings.poll_interval if self.poll_interval is None else self.poll_interval
        poll_timeout = settings.poll_timeout if self.poll_timeout is None else self.poll_timeout
        self.log.info("Deferring: the triggerer polls generation %s every %.1f s.", uuid, poll_interval)
        self.defer(
            trigger=OneMinResultTrigger(
                uuid=uuid,
                onemin_conn_id=self.onemin_conn_id,
                poll_interval=poll_interval,
                timeout=poll_timeout,
                min_defer_time=resolve_min_defer_time(self.min_defer_time),
            ),
            method_name="execute_complete",
            kwargs={"reuse_key": dataclasses.asdict(self.reuse_key)} if self.reuse_key else None,
        )

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


def __getattr__(name: str) -> Any:
    # Names this module exported before the submission record had a module of its own; imported
    # on first use so that a DAG file does not load the submission record's code.
    if name in ("STATE_KEY", "request_hash"):
        from airflow_provider_onemin.submissions import ledger

        return getattr(ledger, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
