"""BackgroundRemoverOperator: cut the product out of a photo, on a transparent background."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Only what a DAG file needs to build the operator is imported here: everything the task does
# when it runs is imported where it is used, so that parsing a DAG does not pay for it.
from airflow_provider_onemin.inputs.arguments import is_templated, remover_prompt_object
from airflow_provider_onemin.links.results import OneMinResultLink
from airflow_provider_onemin.operators.base_generation import OneMinGenerationOperator
from airflow_provider_onemin.schemas.features import DEFAULT_REMOVER_MODEL, FEATURE_BACKGROUND_REMOVER

__all__ = ["BackgroundRemoverOperator"]

#: Formats whose results keep an alpha channel; a ``jpeg`` result is flattened onto white.
TRANSPARENT_FORMATS = ("png", "webp")


class BackgroundRemoverOperator(OneMinGenerationOperator):
    """
    Remove the background of a product photo with the 1min.ai Background Remover.

    Everything the Background Replacer has for money and storage comes from
    :class:`~airflow_provider_onemin.operators.base_generation.OneMinGenerationOperator`:
    validation before paying, the upload of local and object-storage images, the submission
    record (a retry resumes the same generation, never pays twice), deferral, ``reuse``, storing,
    XCom, asset events, the extra link, the dry run and lineage. One request makes one image.

    The result keeps its transparency in ``png`` and ``webp``. ``jpeg`` has no alpha channel: a
    downloaded result with transparency is flattened onto white before it is stored, and the task
    log says so.

    :param image_url: the source image: an asset path on 1min.ai, an ``http(s)://`` URL, a local
        file (``/path`` or ``file://``) or an object-storage URL (``s3://``...). (templated)
    :param output_format: ``png`` (default), ``webp`` or ``jpeg``; always sent. (templated)
    :param model: the Background Remover model: ``stable-image`` (default), ``clipdrop`` or
        ``recraft``; one schema file per model under ``schemas/background_remover/``. An unknown
        model fails when the DAG is parsed.
    :param output_path: store the result under this folder (as for the Background Replacer:
        ``<dag>/<run>/<task>[/map-<k>]/result-0.<ext>``, whole or not at all). (templated)
    :param kwargs: the base class's (``onemin_conn_id``, ``dry_run``, ``reuse``,
        ``reuse_wait_timeout``, ``deferrable``, ``poll_interval``, ``poll_timeout``,
        ``min_defer_time``) and ``BaseOperator``'s.
    """

    #: The 1min.ai feature this operator asks for (the request's ``type``).
    feature = FEATURE_BACKGROUND_REMOVER
    template_fields: Sequence[str] = ("image_url", "output_format", "output_path")
    operator_extra_links = (OneMinResultLink(),)
    ui_color = "#eef7ee"

    #: One image per request: what delivery expects back and the pipeline's caps count.
    num_images = 1

    def __init__(
        self,
        *,
        image_url: str,
        output_path: Any = None,
        output_format: str = "png",
        model: str = DEFAULT_REMOVER_MODEL,
        **kwargs: Any,
    ) -> None:
        super().__init__(model=model, output_path=output_path, **kwargs)
        self.image_url = image_url
        self.output_format = output_format
        if not is_templated(image_url) and not is_templated(output_format):
            # A bad literal fails the DAG import, with the same message as at run time.
            self.validate_request()
        else:
            from airflow_provider_onemin.schemas.validation import request_schema

            request_schema(model, FEATURE_BACKGROUND_REMOVER)  # an unknown model fails the DAG import

    # --- request building -------------------------------------------------------------------

    def request_body(self) -> dict[str, Any]:
        return {
            "type": FEATURE_BACKGROUND_REMOVER,
            "model": self.model,
            "promptObject": remover_prompt_object(
                {"image_url": self.image_url, "output_format": self.output_format}
            ),
        }

    def validate_request(self) -> dict[str, Any]:
        """Validate the request against the model's schema; return the body or raise."""
        from airflow_provider_onemin.schemas.validation import validate_request

        body = self.request_body()
        validate_request(body, self.model, feature=FEATURE_BACKGROUND_REMOVER)
        return body

    # --- what the paid path asks of a subclass ----------------------------------------------

    def result_transform(self) -> Any:
        """
        What to do to each downloaded result before it is stored: flatten onto white for
        ``jpeg`` (the format has no alpha channel), nothing for the formats that keep it.
        """
        if self.output_format in TRANSPARENT_FORMATS:
            return None
        from airflow_provider_onemin.storage.flatten import flatten_onto_white

        log = self.log

        def transform(data: bytes) -> bytes:
            flat = flatten_onto_white(data)
            if flat is None:
                return data
            log.warning(
                "output_format=%s has no transparency: the cut-out's transparent background was "
                "flattened onto white before storing. Use png or webp to keep it.",
                self.output_format,
            )
            return flat

        return transform
