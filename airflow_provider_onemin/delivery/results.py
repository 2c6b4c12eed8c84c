"""
What the operator does once its generation succeeded (or an earlier one was reused).

:func:`deliver_results` stores the results under ``output_path`` (or copies a reused generation's
files), pushes them to XCom, points the extra link at them, annotates the asset events and notes
the outcome for lineage, with what it cost (XCom ``credits``: 1min.ai's ``metadata.credit`` for a
paid generation, 0 for a reused one, ``None`` when 1min.ai did not say: "unknown", never 0);
:func:`note_generation` notes a generation as soon as it is known, so a
failure's lineage names it too. Both read and set attributes of the operator they are given
(a :class:`~airflow_provider_onemin.operators.base_generation.OneMinGenerationOperator`:
``result_link``, ``generation_outcome``): the extra link and the lineage report read those.
What only some operators have (a Background Replacer's ``prompt``, ``seed``, ``num_images``; a
Background Remover has none of them and makes one image) is read with a default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.compat import push_optional_xcom
from airflow_provider_onemin.delivery.outlets import annotate_asset_events, asset_event_extra
from airflow_provider_onemin.hooks.signatures import without_signatures
from airflow_provider_onemin.inputs.arguments import coerce_integer
from airflow_provider_onemin.lineage import metrics
from airflow_provider_onemin.links.results import result_link
from airflow_provider_onemin.reuse.policy import index_generation

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_onemin.reuse.key import RequestKey
    from airflow_provider_onemin.reuse.policy import Reused
    from airflow_provider_onemin.submissions.ledger import SubmissionLedger


def deliver_results(
    operator: Any,
    context: Context,
    record: dict[str, Any],
    reused: Reused | None = None,
) -> list[str]:
    """
    Push the results to XCom (and store them) once the generation succeeded or was reused.

    :param operator: the operator whose task instance gets the results.
    :param context: the task's context.
    :param record: the generation's 1min.ai record (for a reused one, :attr:`Reused.record`).
    :param reused: what an earlier generation gave this task instance, when it was reused.
    :return: the result paths on 1min.ai (XCom ``return_value``).
    """
    from airflow_provider_onemin.hooks.records import result_fields

    # A signed link is a credential, and everything below is written somewhere (XCom, the extra
    # link, lineage, logs): only the download, which needs the signature, reads the record itself.
    results, result_urls, seeds = without_signatures(result_fields(record))
    expected = _expected_images(operator)
    prompt = getattr(operator, "prompt", None)
    ti = context["ti"]
    incomplete = None
    if isinstance(expected, int) and len(results) != expected:
        incomplete = {"asked": expected, "returned": len(results)}
        operator.log.warning(
            "Asked for %d image(s) but 1min.ai returned %d for generation %s (the others may have "
            "been withheld, e.g. as unsafe): XCom incomplete says so, and it is not indexed for reuse.",
            expected,
            len(results),
            record.get("uuid"),
        )
    # Only for a short answer: a consumer (or a reviewer) can tell a partial answer apart.
    if incomplete is not None:
        ti.xcom_push(key="incomplete", value=incomplete)
    push_optional_xcom(ti, "ai_record_uuid", record.get("uuid"))
    ti.xcom_push(key="result_urls", value=result_urls)
    ti.xcom_push(key="seeds", value=seeds)
    # What the results viewer shows beside each image.
    push_optional_xcom(ti, "prompt", prompt)  # a Background Remover has none
    ti.xcom_push(key="model", value=record.get("model") or operator.model)
    # The feature says what a result without a prompt is (a cut-out, for the Background Remover).
    push_optional_xcom(ti, "feature", getattr(operator, "feature", None))
    # Until something is stored, the link is 1min.ai's own URL of the first result, unsigned.
    operator.result_link = next(iter(u for u in result_urls if u), None)
    stored = _stored_results(operator, context, record, reused)
    if operator.output_path is not None and operator.output_path != "":
        from airflow_provider_onemin.storage.results import storage_conn_id

        conn_id = storage_conn_id(operator.output_path)
        ti.xcom_push(key="stored_paths", value=stored)
        push_optional_xcom(ti, "storage_conn_id", conn_id)
        operator.result_link = result_link(ti, stored, [operator.result_link])
        seed = seeds[0] if seeds else coerce_integer("seed", getattr(operator, "seed", None))
        extra = asset_event_extra(prompt, seed, seeds, record.get("uuid"), stored, conn_id)
        if operator.reuse:
            extra["reused"] = reused is not None
        annotate_asset_events(context, operator.outlets, operator.output_path, extra)
    reused_from = reused.reused_from if reused else None
    credits = _report_credits(operator, ti, record, reused)
    outcome = {"results": results, "result_urls": result_urls, "seeds": seeds, "stored_paths": stored}
    note_generation(operator, record, **outcome, reused_from=reused_from, credits=credits)
    operator.log.info("Generation %s: %d result(s): %s", record.get("uuid"), len(results), results)
    return results


def _report_credits(operator: Any, ti: Any, record: dict[str, Any], reused: Reused | None) -> float | None:
    """
    What this task instance spent: XCom ``credits`` and the log; a paid generation's price is also
    kept beside the reuse index, for later estimates of identical options (with ``reuse``).
    """
    from airflow_provider_onemin.hooks.records import reported_credit
    from airflow_provider_onemin.reuse.credits import format_credits, remember_price

    model = record.get("model") or operator.model
    uuid = record.get("uuid")
    if reused is not None:
        credits: float | None = 0
        operator.log.info("Credits spent: 0 (%s; generation %s reused, nothing paid).", model, uuid)
    else:
        credits = reported_credit(record)
        if credits is None:
            operator.log.warning(
                "Credits spent: unknown: 1min.ai did not report what generation %s (%s) cost "
                "(no aiRecord.metadata.credit). Check the 1min.ai history; XCom credits is None.",
                uuid,
                model,
            )
        else:
            operator.log.info("Credits spent: %s (%s, generation %s).", format_credits(credits), model, uuid)
            key = getattr(operator, "paid_key", None)
            if key is not None and operator.output_path not in (None, ""):
                remember_price(operator.output_path, key.request, credits, uuid, operator.log)
    push_optional_xcom(ti, "credits", credits)
    return credits


def _expected_images(operator: Any) -> Any:
    """How many images the operator asked for (an int once rendered; 1 when it has no such argument)."""
    return coerce_integer("num_images", getattr(operator, "num_images", 1))


def note_generation(operator: Any, record: dict[str, Any], **outcome: Any) -> None:
    """Keep what this try got for its lineage report (read in this process, not from XCom)."""
    from airflow_provider_onemin.lineage.report import GenerationOutcome

    operator.generation_outcome = GenerationOutcome(uuid=record.get("uuid"), **outcome)


def _stored_results(
    operator: Any, context: Context, record: dict[str, Any], reused: Reused | None
) -> list[str]:
    """This task instance's files: copied from an earlier generation, or downloaded (and indexed)."""
    if operator.reuse:  # None when paid, so a mapped consumer can index it (Airflow 3.0: left out)
        push_optional_xcom(context["ti"], "reused_from", reused.reused_from if reused else None)
    if reused is not None:
        return reused.stored_paths
    download_urls = operator.hook.result_download_urls(record)
    # The asset URL of the first result's key (no signature), else its upstream URL without one.
    unsigned = operator.hook.result_download_urls(without_signatures(record))
    operator.result_link = unsigned[0] if unsigned else operator.result_link
    if operator.output_path is None or operator.output_path == "":
        return []
    stored = _store(operator, context, download_urls, record.get("uuid"))
    # The key it was paid for (None when unknown), and only a complete answer: a partial one would
    # be served to every later identical request as if it were all that was asked for.
    key = getattr(operator, "paid_key", None)
    expected = _expected_images(operator)
    if key is not None and len(stored) == expected:
        index_generation(operator.output_path, key, record, stored, context["ti"], operator.log)
    return stored


def _store(operator: Any, context: Context, download_urls: list[str], uuid: str | None) -> list[str]:
    """Download every result to ``output_path``; return the stored plain URIs in result order."""
    from airflow_provider_onemin.storage.results import store_results

    ti = context["ti"]
    map_index = getattr(ti, "map_index", None)
    names = {"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id}
    map_index = map_index if isinstance(map_index, int) else -1
    transform = operator.result_transform()
    with metrics.storing(operator.model):
        return store_results(
            operator.hook,
            download_urls,
            operator.output_path,
            **names,
            map_index=map_index,
            uuid=uuid,
            transform=transform,
        )


def paid_key(
    ledger: SubmissionLedger, record: dict[str, Any], key: RequestKey, log: Any
) -> RequestKey | None:
    """
    The key to index ``record``'s results under: the identity it was paid for, never one this
    try computed (``key``) for a request that may differ (a photo replaced since, a template
    rendered otherwise). ``None`` when the record cannot say which: nothing is indexed then.
    """
    uuid = record.get("uuid")
    paid = ledger.paid_identity(uuid)
    if paid is not None and paid == key.digest:
        return key
    log.warning(
        "Generation %s is delivered but not indexed for reuse: %s",
        uuid,
        "its submission record does not say which request it was paid for (written by an earlier version)"
        if paid is None
        else f"it was paid for as request {paid[:12]}, and this attempt's request is {key.digest[:12]}",
    )
    return None
