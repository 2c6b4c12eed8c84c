"""BackgroundReplacerOperator: keep the product in a photo, regenerate the scene behind it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Only what a DAG file needs to build the operator is imported here: everything the task does
# when it runs (the client, storage, reuse, the submission record, metrics) is imported where it
# is used, so that parsing a DAG does not pay for it.
from airflow_provider_onemin.inputs.arguments import PROMPT_FIELDS, is_templated, prompt_object_of
from airflow_provider_onemin.links.results import OneMinResultLink
from airflow_provider_onemin.operators.base_generation import OneMinGenerationOperator
from airflow_provider_onemin.schemas.features import DEFAULT_MODEL, FEATURE_BACKGROUND_REPLACER

__all__ = ["PROMPT_FIELDS", "BackgroundReplacerOperator"]


class BackgroundReplacerOperator(OneMinGenerationOperator):
    """
    Replace the background of a product photo with the 1min.ai Background Replacer.

    What it shares with every paid operator (record and resume, reuse, deferral, storing) is in
    :class:`~airflow_provider_onemin.operators.base_generation.OneMinGenerationOperator`.

    The arguments are validated against the JSON Schema of ``model`` shipped with this package:
    when the DAG is parsed if nothing is templated, and always after rendering, before any call.
    Local and object-storage images are checked and uploaded first. The generation is submitted
    once (in the API's async mode), its uuid is kept in the task state store so that a retry of
    the same task instance resumes it instead of paying again, and the result paths are returned
    (XCom ``return_value``). Also pushed: ``ai_record_uuid``, ``result_urls``, ``seeds``, ``credits``
    (what 1min.ai reported the generation cost; 0 when reused; None when not reported) and, when
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
        return ``[]``: nothing is uploaded, nothing paid, no paid or keyed request is made, and no
        asset event is emitted (the outlets are dropped for that run). Says "would pay for N
        image(s)" and what that would cost in credits (from the public model list, read without
        the key, or earlier paid calls; docs/models.md), or, with ``reuse``, "would reuse generation X".
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

    #: The 1min.ai feature this operator asks for (the request's ``type``).
    feature = FEATURE_BACKGROUND_REPLACER
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
        output_path: Any = None,
        **kwargs: Any,
    ) -> None:
        # The paid path's own arguments (onemin_conn_id, dry_run, reuse, deferrable, polling...)
        # are the base class's: documented above, declared and defaulted there only.
        super().__init__(model=model, output_path=output_path, **kwargs)
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


def __getattr__(name: str) -> Any:
    # Names this module exported before the submission record had a module of its own; imported
    # on first use so that a DAG file does not load the submission record's code.
    if name in ("STATE_KEY", "request_hash"):
        from airflow_provider_onemin.submissions import ledger

        return getattr(ledger, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
