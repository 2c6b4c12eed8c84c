"""
What a task instance generated, read from the metadata database by the api-server.

Everything comes from the XComs the operator pushed (``stored_paths``, ``seeds``,
``ai_record_uuid``, ``prompt``, ``model``, ``storage_conn_id``, ``reused_from``): the files a page
may show are the ``stored_paths`` of that very task instance, never a path from a request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.schemas.features import FEATURE_TITLES  # names only: imports nothing

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: The XCom keys the viewer reads (see /work/OWNERS.md's interfaces).
XCOM_KEYS = (
    "stored_paths",
    "seeds",
    "ai_record_uuid",
    "prompt",
    "model",
    "feature",
    "storage_conn_id",
    "reused_from",
    "result_urls",
)


@dataclass(frozen=True)
class StoredImage:
    """One stored result of a task instance."""

    index: int
    uri: str
    seed: Any


@dataclass
class TaskResults:
    """The results of one task instance (a mapped one has its ``map_index``)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None
    label: str | None = None
    prompt: str | None = None
    model: str | None = None
    feature: str | None = None
    uuid: str | None = None
    storage_conn_id: str | None = None
    reused_from: dict[str, Any] | None = None
    images: list[StoredImage] = field(default_factory=list)

    @property
    def caption(self) -> str:
        """The prompt, or what the result is when its feature takes none (a Background Remover's)."""
        if self.prompt:
            return self.prompt
        if self.feature:
            title = FEATURE_TITLES.get(self.feature, self.feature)
            return f"{title} result (no prompt)"
        return "(prompt not recorded)"

    @property
    def reused(self) -> bool:
        return bool(self.reused_from)

    def image(self, index: int) -> StoredImage | None:
        """The ``index``-th stored file, or ``None`` when there is no such file."""
        return self.images[index] if 0 <= index < len(self.images) else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "task_id": self.task_id,
            "map_index": self.map_index,
            "label": self.label,
            "state": self.state,
            "prompt": self.prompt,
            "model": self.model,
            "feature": self.feature,
            "uuid": self.uuid,
            "reused": self.reused,
            "reused_from": (self.reused_from or {}).get("uuid") if self.reused_from else None,
            "images": [{"index": i.index, "uri": i.uri, "seed": i.seed} for i in self.images],
        }


def _state(ti: Any) -> str | None:
    return None if ti.state is None else str(getattr(ti.state, "value", ti.state))


def _from_xcoms(ti: Any, values: dict[str, Any]) -> TaskResults:
    stored = values.get("stored_paths") or []
    seeds = values.get("seeds") or []
    reused_from = values.get("reused_from")
    result = TaskResults(
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        task_id=ti.task_id,
        map_index=ti.map_index,
        state=_state(ti),
        label=getattr(ti, "rendered_map_index", None),
        prompt=values.get("prompt"),
        model=values.get("model"),
        feature=values.get("feature") if isinstance(values.get("feature"), str) else None,
        uuid=values.get("ai_record_uuid"),
        storage_conn_id=values.get("storage_conn_id") or None,
        reused_from=reused_from if isinstance(reused_from, dict) else None,
    )
    if isinstance(stored, list):
        for index, uri in enumerate(stored):
            if isinstance(uri, str) and uri:
                seed = seeds[index] if isinstance(seeds, list) and index < len(seeds) else None
                result.images.append(StoredImage(index=index, uri=uri, seed=seed))
    return result


def run_results(
    session: Session, dag_id: str, run_id: str, task_id: str | None = None, map_index: int | None = None
) -> list[TaskResults] | None:
    """
    The results of a run's task instances that generated something, in task and map order.

    :param task_id: only this task's instances.
    :param map_index: with ``task_id``: only this instance.
    :return: ``None`` when the run (or the task instance asked for) does not exist; else one entry
        per task instance that pushed a generation (an empty list when none did).
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    run = session.scalar(select(DagRun.id).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if run is None:
        return None
    query = select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
    if task_id is not None:
        query = query.where(TaskInstance.task_id == task_id)
        if map_index is not None:
            query = query.where(TaskInstance.map_index == map_index)
    instances = list(session.scalars(query.order_by(TaskInstance.task_id, TaskInstance.map_index)))
    if task_id is not None and not instances:
        return None
    rows = session.scalars(
        select(XComModel).where(
            XComModel.dag_id == dag_id,
            XComModel.run_id == run_id,
            XComModel.key.in_(XCOM_KEYS),
            *([XComModel.task_id == task_id] if task_id is not None else []),
        )
    )
    values: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        values.setdefault((row.task_id, row.map_index), {})[row.key] = XComModel.deserialize_value(row)
    results = []
    for ti in instances:
        found = values.get((ti.task_id, ti.map_index))
        if found and ("stored_paths" in found or "ai_record_uuid" in found):
            results.append(_from_xcoms(ti, found))
    return results
