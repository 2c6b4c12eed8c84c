"""
Human review of a run's results before they are published (Airflow 3.1+ human-in-the-loop).

Airflow's ``HITLOperator`` takes its ``options`` when the DAG is parsed and, when the answer
comes back, checks it against those same options. A pipeline's lines are only known when it runs
(the plan reads the catalogue), so :class:`ResultsReviewOperator` builds its options from the
lines it receives (a template field, usually the plan task's XComArg) each time it runs: before
asking, and again when it resumes with the answer (the task is rebuilt from the DAG file then, and
its template fields rendered again, so both see the same lines and the same options).

The reviewer picks the lines to publish (``multiple=True``) or the single "publish nothing"
option (a line may carry its own ``option`` text: the marketing pipeline asks per product and
channel); the operator returns the approved line numbers with who answered and when. No default
is set: a review that times out fails (without retrying: nobody answered, asking again would only
wait as long again), and nothing is approved.

The request names what waits for whom: its subject names the run and its products, its body the
run, the lines and the time after which nothing is published.

A test run (``dag.test()``, ``airflow dags test``) has nobody to ask: the review does not wait,
approves nothing and returns ``skipped`` saying why (the run then publishes nothing and says so).
A reviewer's answer is never invented: nothing is published without a person, on any run.

Airflow's stale-deferral race (apache/airflow#71580, #72716): an answer given in the first seconds
after the request can reach the resumed task before the scheduler has processed the end of the
asking try, and the scheduler then fails the resumed try ("state mismatch"). Give the operator
retries (it has three by default, five seconds apart): the next try asks again, saying why in
its body.

On Airflow 3.0 there is no human-in-the-loop: :data:`REVIEW_AVAILABLE` is false and
:class:`ResultsReviewOperator` is ``None``, so a DAG can leave the step out and still load.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.compat import (
    AirflowFailException,
    hitl_operator,
    in_test_run,
    plugin_pages_supported,
)
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
    :param line: the plan line (``sku``, ``product``, ``prompt``), or a choice with its own text
        (``option``: the marketing pipeline's product x channel choices).
    """
    if line.get("option"):
        return f"{number}. {line['option']}"
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


#: What a test run's review returns in ``skipped`` (and logs).
SKIPPED_IN_TEST_RUN = (
    "review skipped in a test run (dag.test / airflow dags test): nobody was asked, nothing is published"
)


def review_subject(run_id: str, lines: Sequence[dict[str, Any]]) -> str:
    """
    The request's headline in *Required Actions*: the run and its products, so that a reviewer
    with several runs waiting knows which is which.

    :param run_id: the run being reviewed.
    :param lines: the plan lines (``sku``, ``product``).
    """
    products = list(dict.fromkeys(line.get("sku") or line.get("product") or "?" for line in lines))
    shown = ", ".join(products[:4]) + (f" and {len(products) - 4} more" if len(products) > 4 else "")
    return f"Publish which images of run {run_id}? {len(lines)} line(s): {shown}"


def waiting_note(run_id: str, deadline: str | None, try_number: int) -> str:
    """
    The body's first paragraph: what waits, until when, and why a request is asked again.

    :param run_id: the run being reviewed.
    :param deadline: when the request times out (ISO time), or ``None`` without a timeout.
    :param try_number: the review task's try; from 2 on, an earlier request got no usable answer.
    """
    text = f"Run `{run_id}` waits for this answer before publishing anything."
    if deadline:
        text += f" Without an answer by {deadline} (UTC) nothing of it is published."
    if try_number > 1:
        text += (
            f" Asked again (try {try_number}): the earlier request ended without a usable answer, e.g."
            " when Airflow lost an answer given in its first seconds (apache/airflow#72716)."
        )
    return text + "\n"


def review_body(lines: Sequence[dict[str, Any]], gallery: str | None, channels: str | None = None) -> str:
    """The Markdown the reviewer reads: where to look, then the lines to choose from."""
    parts = []
    if gallery:
        parts.append(f"**[Open this run's gallery]({gallery})** to see every image before choosing.\n")
    if channels:
        parts.append(
            f"**[Open its channel view]({channels})**: each product's renditions per channel beside"
            " the source photo, with their compliance (flagged when they need review).\n"
        )
    if any(line.get("option") for line in lines):
        parts.append(
            f"Choose what to publish ({len(lines)} choices; an image flagged NEEDS REVIEW is published "
            f"only when its own choice is picked), or *{PUBLISH_NOTHING}*:\n"
        )
    else:
        parts.append(f"Choose the lines to publish ({len(lines)} generated), or *{PUBLISH_NOTHING}*:\n")
    for number, line in enumerate(lines, start=1):
        if line.get("option"):
            parts.append(line_option(number, line))
        else:
            parts.append(
                f"{number}. `{line.get('sku', '')}` {line.get('product', '')}: {line.get('prompt', '')}"
            )
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
        :param subject: the headline of the request (default: :func:`review_subject`, naming the
            run and its products). (templated)
        :param response_timeout: how long to wait for an answer; after it, the task fails without
            retrying and nothing is approved.
        :param response_timeout_minutes: the same in minutes, decided at run time (e.g.
            ``"{{ params.review_timeout_minutes }}"``); wins over ``response_timeout``. (templated)
        :param gallery_task_id: the task whose results the body's gallery link shows (default:
            the whole run).
        :param retries: tries after the first when Airflow fails the review (its stale-deferral
            race fails a review answered in its first seconds; the next try asks again). A DAG's
            ``default_args`` set it as for any operator.
        :param retry_delay: the wait before asking again.
        """

        template_fields: Sequence[str] = (*HITLOperator.template_fields, "lines", "response_timeout_minutes")

        def __init__(
            self,
            *,
            lines: Any,
            subject: str | None = None,
            gallery_task_id: str | None = None,
            response_timeout_minutes: float | str | None = None,
            retries: int = 3,
            retry_delay: timedelta | float = timedelta(seconds=5),
            **kwargs: Any,
        ) -> None:
            for fixed in ("options", "multiple", "defaults"):
                if fixed in kwargs:
                    raise ValueError(f"{fixed} is built from the run's lines; it cannot be given.")
            super().__init__(
                subject=subject or "",
                options=list(_PARSE_TIME_OPTIONS),
                multiple=True,
                retries=retries,
                retry_delay=retry_delay,
                **kwargs,
            )
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
            if in_test_run():
                self.log.warning(
                    "%s; %d line(s) stay unpublished.", SKIPPED_IN_TEST_RUN.capitalize(), len(lines)
                )
                return {"approved": None, "skipped": SKIPPED_IN_TEST_RUN, "chosen_options": []}
            gallery = (
                viewer_url(ti.dag_id, ti.run_id, self.gallery_task_id) if plugin_pages_supported() else None
            )
            channels = viewer_url(ti.dag_id, ti.run_id, channels=True) if gallery else None
            if not self.subject:
                self.subject = review_subject(ti.run_id, lines)
            deadline = None
            if self.response_timeout:
                from airflow.sdk import timezone

                deadline = (timezone.utcnow() + self.response_timeout).strftime("%Y-%m-%d %H:%M")
            self.body = (
                waiting_note(ti.run_id, deadline, ti.try_number)
                + "\n"
                + review_body(lines, gallery, channels)
                + (f"\n\n{self.body}" if self.body else "")
            )
            self.log.info(
                "Asking for a review of %d line(s) (try %d); gallery: %s",
                len(lines),
                ti.try_number,
                gallery or "-",
            )
            return super().execute(context)

        def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
            lines = self._use_run_options()
            if event.get("error_type") == "timeout":
                # Not retried: a new try would only wait as long again for the same nobody.
                waited = (
                    f"{float(self.response_timeout_minutes):g} minute(s)"
                    if self.response_timeout_minutes not in (None, "")
                    else str(self.response_timeout)
                )
                raise AirflowFailException(
                    f"Nobody answered the review within {waited}: nothing is approved."
                )
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
