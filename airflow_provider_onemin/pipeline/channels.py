"""
The channels of a catalogue's products, and the renditions a run made for them, as a person
reviews them.

* :func:`catalogue_channels` and :func:`check_catalogue`: a product's ``channels`` cell (preset
  names separated by spaces or ``;``) read and checked against the built-in presets, or
  :data:`DEFAULT_CHANNELS` when empty; a whole catalogue checked at once.
* :func:`collect_renditions`: every rendition of a run (the cut-out's ``amazon_main`` and each
  scene's channels), with its place in the published layout, its size and its review flag.
* :func:`review_choices`: what a person approves: one choice per product and channel (the
  renditions that passed every check), and one choice of its own per rendition flagged
  ``needs_review`` (product fidelity), so that such a rendition is published only when a person
  picked it by name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

#: The main image, made from each product's cut-out (never from a scene).
MAIN_CHANNEL = "amazon_main"
#: The scene channels of a product whose ``channels`` cell is empty or missing.
DEFAULT_CHANNELS = ("shopify_square", "web_thumbnail")
_SEPARATORS = re.compile(r"[\s;]+")


def _channel_problems(cell: str | None, sku: str) -> tuple[list[str], list[str]]:
    """A catalogue cell's channels (its order, no repeats) and what is wrong with them."""
    from airflow_provider_onemin.renditions.presets import BUILT_IN

    names = list(dict.fromkeys(name for name in _SEPARATORS.split(cell or "") if name))
    problems = []
    for name in names:
        if name == MAIN_CHANNEL:
            problems.append(
                f"catalogue: product {sku!r}: channel {name!r} is made from every product's cut-out, not "
                "from a scene; list only the scene channels in its channels column"
            )
        elif name not in BUILT_IN:
            scene_channels = sorted(set(BUILT_IN) - {MAIN_CHANNEL})
            problems.append(
                f"catalogue: product {sku!r}: unknown channel {name!r} in its channels column; one of "
                f"{', '.join(scene_channels)}, separated by spaces or ';' (empty: "
                f"{' '.join(DEFAULT_CHANNELS)})"
            )
    return names or list(DEFAULT_CHANNELS), problems


def _invalid(problems: list[str]) -> Exception:
    from airflow_provider_onemin.exceptions import OneMinValidationError

    return OneMinValidationError(problems, summary=f"Invalid catalogue ({len(problems)} problem(s))")


def catalogue_channels(cell: str | None, sku: str) -> list[str]:
    """
    The scene channels a catalogue row asks for, in its order, without repeats.

    :param cell: the row's ``channels`` cell: built-in preset names separated by spaces or ``;``;
        empty or None: :data:`DEFAULT_CHANNELS`.
    :param sku: the row's sku, named in the error.
    :raises OneMinValidationError: naming the sku and the channel, when a name is not a built-in
        preset, or is ``amazon_main`` (made from every product's cut-out, never from a scene).
    """
    channels, problems = _channel_problems(cell, sku)
    if problems:
        raise _invalid(problems)
    return channels


def check_catalogue(products: Sequence[dict[str, Any]]) -> None:
    """
    Check every row of a catalogue (a sku listed once, known channels) and replace each row's
    ``channels`` cell by its list; every problem is named at once, before anything is paid.

    :param products: the catalogue's rows (``sku``, ``channels``), changed in place.
    :raises OneMinValidationError: naming each sku and channel at fault.
    """
    problems: list[str] = []
    seen: set[str] = set()
    for product in products:
        sku = product.get("sku") or ""
        if sku in seen:
            problems.append(f"catalogue: sku {sku!r} is listed twice; its published images would collide")
        seen.add(sku)
        product["channels"], found = _channel_problems(product.get("channels"), sku)
        problems.extend(found)
    if problems:
        raise _invalid(problems)


def alt_text(product: str, prompt: str | None) -> str:
    """The image's alt text: the product's name and its scene (a white background for the main image)."""
    return f"{product}, {prompt}" if prompt else f"{product} on a white background"


def _report(compliance: Any, channel: str, index: int) -> dict[str, Any]:
    try:
        return dict(compliance[channel][index])
    except (KeyError, IndexError, TypeError):
        return {}


def _records(
    rendered: Any, compliance: Any, base: dict[str, Any], positions: Mapping[str, int]
) -> list[dict[str, Any]]:
    """One record per rendition a renditions task stored (its XComs), channel by channel."""
    records = []
    for channel, uris in (rendered or {}).items():
        for index, uri in enumerate(uris):
            report = _report(compliance, channel, index)
            fidelity = report.get("fidelity") or {}
            records.append(
                {
                    **base,
                    "channel": channel,
                    "position": positions.get(channel, 1),
                    "uri": uri,
                    "source": report.get("source"),
                    "width": report.get("width"),
                    "height": report.get("height"),
                    "format": report.get("format"),
                    "needs_review": bool(report.get("needs_review")),
                    "fidelity": fidelity.get("score"),
                }
            )
    return records


def collect_renditions(
    products: Sequence[Mapping[str, Any]],
    lines: Sequence[Mapping[str, Any]],
    main: Sequence[Any],
    main_compliance: Sequence[Any],
    scenes: Sequence[Any],
    scene_compliance: Sequence[Any],
) -> list[dict[str, Any]]:
    """
    Every rendition of a run: per product its ``amazon_main`` image, then its scenes' channels.

    A record has ``sku``, ``product``, ``prompt`` (None for the main image), ``source`` (the cut-out
    or the scene's result), ``channel``, ``position``, ``uri``, ``width``, ``height``, ``format``,
    ``needs_review``, ``fidelity`` and ``alt_text``. ``position`` numbers a product's images in a
    channel from 1: the main image is 1; a scene's is its place in the run's scenes (so approving or
    rejecting one scene never renumbers another).

    :param products: the products, in map-index order of the main renditions (``sku``, ``name``).
    :param lines: the plan lines, in map-index order of the scene renditions.
    :param main: each product's renditions (``{channel: [uri]}``), None where the task failed.
    :param main_compliance: their compliance reports, same shape.
    :param scenes: each line's renditions, None where the task failed.
    :param scene_compliance: their compliance reports.
    """
    records: list[dict[str, Any]] = []
    by_sku: dict[str, list[dict[str, Any]]] = {}
    for position, product in enumerate(products):
        base = {
            "sku": product["sku"],
            "product": product["name"],
            "prompt": None,
            "alt_text": alt_text(product["name"], None),
        }
        by_sku[product["sku"]] = _records(
            main[position] if position < len(main) else None,
            main_compliance[position] if position < len(main_compliance) else None,
            base,
            {MAIN_CHANNEL: 1},
        )
    scene_numbers: dict[str, int] = {}
    for position, line in enumerate(lines):
        number = scene_numbers[line["sku"]] = scene_numbers.get(line["sku"], 0) + 1
        base = {
            "sku": line["sku"],
            "product": line["product"],
            "prompt": line["prompt"],
            "alt_text": alt_text(line["product"], line["prompt"]),
        }
        rendered = scenes[position] if position < len(scenes) else None
        positions = {channel: number for channel in rendered or {}}
        compliance = scene_compliance[position] if position < len(scene_compliance) else None
        by_sku.setdefault(line["sku"], []).extend(_records(rendered, compliance, base, positions))
    for sku_records in by_sku.values():
        records.extend(sku_records)
    return records


def _count(count: int) -> str:
    return f"{count} image" if count == 1 else f"{count} images"


def review_choices(renditions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """
    What a person approves, in catalogue order: per product and channel one choice for its
    renditions that need no review ("MUG-001 Stoneware mug: shopify_square (2 images)"), and one
    choice of its own for each rendition flagged ``needs_review``, which says why.

    Each choice has ``option`` (its text, without the number the review puts in front), ``sku``,
    ``product``, ``channel``, ``flagged`` and ``renditions`` (the records it publishes).
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for record in renditions:
        groups.setdefault((record["sku"], record["channel"]), []).append(record)
    choices = []
    for (sku, channel), records in groups.items():
        product = records[0]["product"]
        passed = [r for r in records if not r["needs_review"]]
        if passed:
            choices.append(
                {
                    "option": f"{sku} {product}: {channel} ({_count(len(passed))})",
                    "sku": sku,
                    "product": product,
                    "channel": channel,
                    "flagged": False,
                    "renditions": passed,
                }
            )
        for record in records:
            if record["needs_review"]:
                score = record.get("fidelity")
                why = "product fidelity " + (f"{score:.3f}" if score is not None else "not measurable")
                choices.append(
                    {
                        "option": f"{sku} {product}: {channel} image {record['position']} "
                        f"({record['prompt']}) NEEDS REVIEW: {why}",
                        "sku": sku,
                        "product": product,
                        "channel": channel,
                        "flagged": True,
                        "renditions": [record],
                    }
                )
    return choices


def catalogue_products(lines: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """
    The products of a run's plan lines, in catalogue order: ``sku``, ``name``, ``photo``,
    ``channels`` (each line carries its product's; the first line of a sku gives them).
    """
    products: dict[str, dict[str, Any]] = {}
    for line in lines:
        products.setdefault(
            line["sku"],
            {
                "sku": line["sku"],
                "name": line["product"],
                "photo": line["image_url"],
                "channels": list(line["channels"]),
            },
        )
    return list(products.values())


def main_rendition_arguments(
    products: Sequence[Mapping[str, Any]], cutouts: Sequence[Any]
) -> list[dict[str, Any]]:
    """
    The ``RenditionsOperator`` arguments (``expand_kwargs``) that make each product's cut-out into
    its :data:`MAIN_CHANNEL` image: ``images``, ``product`` (sku and name) and ``source_image``.

    :param products: :func:`catalogue_products`.
    :param cutouts: the remover's ``stored_paths``, by product (its map index).
    """
    return [
        {
            "images": list(cutouts[position]),
            "product": {"sku": product["sku"], "name": product["name"]},
            "source_image": product["photo"],
        }
        for position, product in enumerate(products)
    ]


def scene_rendition_arguments(
    lines: Sequence[Mapping[str, Any]],
    products: Sequence[Mapping[str, Any]],
    stored_paths: Sequence[Any],
    cutouts: Sequence[Any],
) -> list[dict[str, Any]]:
    """
    The ``RenditionsOperator`` arguments that make each line's result into its product's
    channels, with the product's cut-out as ``product_masks`` (the fidelity score).

    :param lines: the plan lines, by the replacer's map index.
    :param products: :func:`catalogue_products`, by the remover's map index.
    :param stored_paths: the replacer's ``stored_paths``, by line.
    :param cutouts: the remover's ``stored_paths``, by product.
    """
    cutout_of = {product["sku"]: cutouts[position][0] for position, product in enumerate(products)}
    return [
        {
            "images": list(stored_paths[position]),
            "channels": list(line["channels"]),
            "product_masks": cutout_of[line["sku"]],
            "product": {"sku": line["sku"], "name": line["product"]},
            "source_image": line["image_url"],
        }
        for position, line in enumerate(lines)
    ]
