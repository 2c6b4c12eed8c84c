"""
The channel view's data: a run's renditions per product and channel, beside the source photo.

Everything comes from the XComs a ``RenditionsOperator`` task instance pushed (docs/renditions.md):
``return_value`` (``{channel: [uri, ...]}``), ``compliance`` (``{channel: [report, ...]}``, same
order), ``source`` (the stored copy of the original photo), ``product`` (a label such as
``{"sku": "MUG-001", "name": "Stoneware mug"}``) and ``storage_conn_id``. A task instance is a
renditions task when it pushed ``compliance``; the files a page may show are the URIs of that
very task instance's ``return_value`` and ``source``, never a path from a request, and they are
served under the same rules as results (:mod:`.serving`).

XCom is data anyone allowed to edit it can write: a value of the wrong shape is left out (the
page shows what is well-formed), never trusted to name anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: The XCom keys the channel view reads.
XCOM_KEYS = ("return_value", "compliance", "source", "product", "storage_conn_id")
#: A channel as the operator names its folder (the preset schema's rule for custom names).
CHANNEL_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_CHANNEL = re.compile(CHANNEL_PATTERN)
#: The heading of renditions whose task pushed no ``product`` (or one without a sku).
NO_PRODUCT = "(no product)"


@dataclass(frozen=True)
class Rendition:
    """One stored rendition and what its compliance report says about it."""

    channel: str
    index: int
    uri: str
    report: dict[str, Any]

    def _get(self, key: str) -> Any:
        return self.report.get(key)

    @property
    def size(self) -> str | None:
        width, height = self._get("width"), self._get("height")
        return f"{width}×{height}" if isinstance(width, int) and isinstance(height, int) else None

    @property
    def format(self) -> str | None:
        value = self._get("format")
        return str(value).upper() if value else None

    @property
    def bytes(self) -> int | None:
        value = self._get("bytes")
        return value if isinstance(value, int) else None

    @property
    def background(self) -> str | None:
        """``passed``, ``failed`` (with the darkest border pixel) or None (no background rule)."""
        check = self._get("background_check")
        if not isinstance(check, dict):
            return None
        if check.get("passed") is True:
            return "passed"
        return f"failed (darkest border {check.get('darkest_border_rgb')})"

    @property
    def coverage(self) -> float | None:
        value = self._get("measured_coverage")
        if not isinstance(value, (int, float)):
            value = self._get("product_coverage")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def min_coverage(self) -> float | None:
        value = self._get("min_coverage")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def fidelity(self) -> float | None:
        fidelity = self._get("fidelity")
        score = fidelity.get("score") if isinstance(fidelity, dict) else None
        return float(score) if isinstance(score, (int, float)) else None

    @property
    def fidelity_threshold(self) -> float | None:
        fidelity = self._get("fidelity")
        threshold = fidelity.get("threshold") if isinstance(fidelity, dict) else None
        return float(threshold) if isinstance(threshold, (int, float)) else None

    @property
    def needs_review(self) -> bool:
        return self._get("needs_review") is True

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "index": self.index,
            "uri": self.uri,
            "width": self._get("width"),
            "height": self._get("height"),
            "format": self._get("format"),
            "bytes": self.bytes,
            "background_check": self._get("background_check"),
            "coverage": self.coverage,
            "min_coverage": self.min_coverage,
            "fidelity": self.fidelity,
            "fidelity_threshold": self.fidelity_threshold,
            "needs_review": self.needs_review,
            "notes": [n for n in self._get("notes") or [] if isinstance(n, str)],
        }


@dataclass
class RenditionTask:
    """The renditions of one task instance (a mapped one has its ``map_index``)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None
    label: str | None = None
    storage_conn_id: str | None = None
    source: str | None = None
    channels: dict[str, list[Rendition]] = field(default_factory=dict)

    def rendition(self, channel: str, index: int) -> Rendition | None:
        """The ``index``-th rendition of ``channel``, or None."""
        renditions = self.channels.get(channel) or []
        return renditions[index] if 0 <= index < len(renditions) else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "map_index": self.map_index,
            "label": self.label,
            "state": self.state,
            "source": self.source,
            "channels": {c: [r.as_dict() for r in rs] for c, rs in self.channels.items()},
        }


@dataclass
class ProductChannels:
    """Every renditions task instance of one product (grouped by the ``product`` XCom's sku)."""

    sku: str
    name: str | None
    tasks: list[RenditionTask] = field(default_factory=list)

    @property
    def needs_review(self) -> int:
        return sum(r.needs_review for t in self.tasks for rs in t.channels.values() for r in rs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "name": self.name,
            "needs_review": self.needs_review,
            "tasks": [t.as_dict() for t in self.tasks],
        }


def _state(ti: Any) -> str | None:
    return None if ti.state is None else str(getattr(ti.state, "value", ti.state))


def _channels(stored: Any, compliance: Any) -> dict[str, list[Rendition]]:
    """The well-formed channels: a channel name, a list of URIs, a report per URI when there is one."""
    channels: dict[str, list[Rendition]] = {}
    if not isinstance(stored, dict):
        return channels
    reports_by_channel = compliance if isinstance(compliance, dict) else {}
    for channel, uris in stored.items():
        if not isinstance(channel, str) or not _CHANNEL.match(channel) or not isinstance(uris, list):
            continue
        reports = reports_by_channel.get(channel)
        reports = reports if isinstance(reports, list) else []
        renditions = []
        for index, uri in enumerate(uris):
            if isinstance(uri, str) and uri:
                report = reports[index] if index < len(reports) and isinstance(reports[index], dict) else {}
                renditions.append(Rendition(channel, index, uri, report))
        channels[channel] = renditions
    return channels


def rendition_task(ti: Any, values: dict[str, Any]) -> RenditionTask:
    """
    One task instance's renditions, from its XCom values (keys of :data:`XCOM_KEYS`).

    :param ti: the task instance (``dag_id``, ``run_id``, ``task_id``, ``map_index``, ``state``).
    :param values: its deserialized XComs, by key.
    """
    source = values.get("source")
    conn_id = values.get("storage_conn_id")
    return RenditionTask(
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        task_id=ti.task_id,
        map_index=ti.map_index,
        state=_state(ti),
        label=getattr(ti, "rendered_map_index", None),
        storage_conn_id=conn_id if isinstance(conn_id, str) and conn_id else None,
        source=source if isinstance(source, str) and source else None,
        channels=_channels(values.get("return_value"), values.get("compliance")),
    )


def _product(value: Any) -> tuple[str, str | None]:
    if isinstance(value, dict):
        sku, name = value.get("sku"), value.get("name")
        name = name if isinstance(name, str) and name else None
        if isinstance(sku, (str, int)) and str(sku):
            return str(sku), name
        return NO_PRODUCT, name
    return NO_PRODUCT, None


def group_by_product(tasks: list[tuple[RenditionTask, Any]]) -> list[ProductChannels]:
    """
    Renditions tasks per product, products in order of first appearance (the run's task and map
    order), tasks in that order within a product.

    :param tasks: each task instance's renditions with its ``product`` XCom value.
    """
    products: dict[str, ProductChannels] = {}
    for task, product in tasks:
        sku, name = _product(product)
        group = products.setdefault(sku, ProductChannels(sku=sku, name=name))
        group.name = group.name or name
        group.tasks.append(task)
    return list(products.values())


def _query(session: Session, dag_id: str, run_id: str, task_id: str | None, keys: tuple[str, ...]) -> Any:
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    return select(XComModel).where(
        XComModel.dag_id == dag_id,
        XComModel.run_id == run_id,
        XComModel.key.in_(keys),
        *([XComModel.task_id == task_id] if task_id is not None else []),
    )


def run_has_renditions(session: Session, dag_id: str, run_id: str, task_id: str | None = None) -> bool:
    """Whether a task instance of the run (or of ``task_id``) pushed renditions (a ``compliance`` XCom)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    query = _query(session, dag_id, run_id, task_id, ("compliance",)).with_only_columns(XComModel.key)
    return session.scalar(select(query.limit(1).exists())) or False


def run_channels(
    session: Session, dag_id: str, run_id: str, task_id: str | None = None, map_index: int | None = None
) -> list[ProductChannels] | None:
    """
    The run's renditions per product (see :func:`group_by_product`).

    :param task_id: only this task's instances.
    :param map_index: with ``task_id``: only this instance.
    :return: ``None`` when the run does not exist; else one entry per product (empty: no renditions).
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    if session.scalar(select(DagRun.id).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)) is None:
        return None
    # Which task instances rendered, first: return_value is every task's, and may be large.
    rendered = {
        (row.task_id, row.map_index)
        for row in session.scalars(_query(session, dag_id, run_id, task_id, ("compliance",)))
    }
    if map_index is not None:
        rendered = {key for key in rendered if key[1] == map_index}
    if not rendered:
        return []
    task_ids = sorted({key[0] for key in rendered})
    values: dict[tuple[str, int], dict[str, Any]] = {}
    rows = session.scalars(
        _query(session, dag_id, run_id, None, XCOM_KEYS).where(XComModel.task_id.in_(task_ids))
    )
    for row in rows:
        if (row.task_id, row.map_index) in rendered:
            values.setdefault((row.task_id, row.map_index), {})[row.key] = XComModel.deserialize_value(row)
    instances = session.scalars(
        select(TaskInstance)
        .where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id.in_(task_ids),
        )
        .order_by(TaskInstance.task_id, TaskInstance.map_index)
    )
    tasks = []
    for ti in instances:
        found = values.get((ti.task_id, ti.map_index))
        if found is not None:
            tasks.append((rendition_task(ti, found), found.get("product")))
    return group_by_product(tasks)
