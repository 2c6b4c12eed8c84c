"""
Human review of a run's results before they are published (Airflow 3.1+ human-in-the-loop).

Airflow's ``HITLOperator`` takes its ``options`` when the DAG is parsed and, when the answer
comes back, checks it against those same options. A pipeline's lines are only known when it runs
(the plan reads the catalogue), so :class:`ResultsReviewOperator` builds its options from the
lines it receives (a template field, usually the plan task's XComArg) each time it runs: before
asking, and again when it resumes with the answer (the task is rebuilt from the DAG file then, and
its template fields rendered again, so both see the same lines and the same options).

The reviewer picks the lines to publish (``multiple=True``) or the single "publish nothing"
option; the operator returns the approved line numbers with who answered and when. No default
is set: a review that times out fails with Airflow's ``HITLTimeoutError``, and nothing is approved.

On Airflow 3.0 there is no human-in-the-loop: :data:`REVIEW_AVAILABLE` is false and
:class:`ResultsReviewOperator` is ``None``, so a DAG can leave the step out and still load.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.compat import hitl_operator, plugin_pages_supported
from airflow_provider_onemin.viewer import viewer_url

if TYPE_CHECKING:
    from airflow.sdk import Context

#: The option that approves nothing (listed after the lines).
PUBLISH_NOTHING = "Publish nothing"
#: The options the operator holds at parse time; replaced by the run's lines before it asks.
_PARSE_TIME_OPTIONS = ["(the lines of the run)"]


def line_option(number: int, line: dict[str, Any]) -> str:
    """
    The option that stands for plan line ``number`` (from 1): unique, and readable in the form.

    :param number: the line's position in the plan, from 1 (the map index plus one).
    :param line: the plan line (``sku``, ``product``, ``prompt``).
    """
    product = line.get("product") or line.get("sku") or "line"
    sku = f" ({line['sku']})" if line.get("sku") and line.get("product") else ""
    return f"{number}. {product}{sku}: {line.get('prompt', '')}"


def line_options(lines: Sequence[dict[str, Any]]) -> list[str]:
    """One option per line, in plan order, then :data:`PUBLISH_NOTHING`."""
    return [line_option(number, line) for number, line in enumerate(lines, start=1)] + [PUBLISH_NOTHING]


def approved_lines(chosen: Sequence[str], lines: Sequence[dict[str, Any]]) -> list[int]:
    """
    The plan positions (from 0) of the lines a reviewer approved.

    :raises ValueError: when an option is unknown, or "publish nothing" comes with lines.
    """
    options = line_options(lines)
    unknown = set(chosen) - set(options)
    if unknown:
        raise ValueError(f"Answer {sorted(unknown)} is not one of this run's options {options}")
    picked = [position for position, option in enumerate(options[:-1]) if option in chosen]
    if PUBLISH_NOTHING in chosen and picked:
        raise ValueError(
            f"The answer chose {PUBLISH_NOTHING!r} and {len(picked)} line(s): nothing is published. "
            "Clear the review task to ask again."
        )
    return picked


def review_body(lines: Sequence[dict[str, Any]], gallery: str | None) -> str:
    """The Markdown the reviewer reads: where to look, then the lines to choose from."""
    parts = []
    if gallery:
        parts.append(f"**[Open this run's gallery]({gallery})** to see every image before choosing.\n")
    parts.append(f"Choose the lines to publish ({len(lines)} generated), or *{PUBLISH_NOTHING}*:\n")
    for number, line in enumerate(lines, start=1):
        parts.append(f"{number}. `{line.get('sku', '')}` {line.get('product', '')}: {line.get('prompt', '')}")
    return "\n".join(parts)


HITLOperator = hitl_operator()

REVIEW_AVAILABLE = HITLOperator is not None


if HITLOperator is not None:

    class ResultsReviewOperator(HITLOperator):  # type: ignore[valid-type,misc]
        """
        Ask a person which of a run's lines to publish; the options are the run's own lines.

        Returns (XCom ``return_value``) Airflow's answer (``chosen_options``, ``responded_by_user``,
        ``responded_at``...) plus ``approved``: the approved plan positions, from 0.

        :param lines: the plan lines (``sku``, ``product``, ``prompt``), usually an XComArg.
            (templated)
        :param subject: the headline of the request. (templated)
        :param response_timeout: how long to wait for an answer; after it, the task fails and
            nothing is approved.
        :param response_timeout_minutes: the same in minutes, decided at run time (e.g.
            ``"{{ params.review_timeout_minutes }}"``); wins over ``response_timeout``. (templated)
        :param gallery_task_id: the task whose results the body's gallery link shows (default:
            the whole run).
        """

        template_fields: Sequence[str] = (*HITLOperator.template_fields, "lines", "response_timeout_minutes")

        def __init__(
            self,
            *,
            lines: Any,
            subject: str = "Which images may be published?",
            gallery_task_id: str | None = None,
            response_timeout_minutes: float | str | None = None,
            **kwargs: Any,
        ) -> None:
            for fixed in ("options", "multiple", "defaults"):
                if fixed in kwargs:
                    raise ValueError(f"{fixed} is built from the run's lines; it cannot be given.")
            super().__init__(subject=subject, options=list(_PARSE_TIME_OPTIONS), multiple=True, **kwargs)
            self.lines = lines
            self.gallery_task_id = gallery_task_id
            self.response_timeout_minutes = response_timeout_minutes

        def _use_run_options(self) -> list[dict[str, Any]]:
            lines = list(self.lines or [])
            if not lines:
                raise ValueError("There is nothing to review: the run has no lines.")
            self.options = line_options(lines)
            return lines

        def execute(self, context: Context) -> Any:
            lines = self._use_run_options()
            if self.response_timeout_minutes not in (None, ""):
                minutes = float(self.response_timeout_minutes)
                if minutes <= 0:
                    raise ValueError(f"response_timeout_minutes must be positive, not {minutes:g}")
                self.response_timeout = timedelta(minutes=minutes)
            ti = context["ti"]
            gallery = (
                viewer_url(ti.dag_id, ti.run_id, self.gallery_task_id) if plugin_pages_supported() else None
            )
            self.body = review_body(lines, gallery) + (f"\n\n{self.body}" if self.body else "")
            self.log.info("Asking for a review of %d line(s); gallery: %s", len(lines), gallery or "-")
            return super().execute(context)

        def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
            lines = self._use_run_options()
            answer = dict(super().execute_complete(context, event))
            answer["approved"] = approved_lines(answer["chosen_options"], lines)
            self.log.info(
                "%s approved %d of %d line(s): %s",
                (answer.get("responded_by_user") or {}).get("name", "someone"),
                len(answer["approved"]),
                len(lines),
                [p + 1 for p in answer["approved"]],
            )
            return answer

else:
    ResultsReviewOperator = None  # type: ignore[assignment,misc]
