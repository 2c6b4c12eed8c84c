"""Presets: the built-in names, custom presets checked by their schema, all before anything is written."""

from __future__ import annotations

import pytest

from airflow_provider_onemin.exceptions import OneMinValidationError
from airflow_provider_onemin.operators.renditions import RenditionsOperator
from airflow_provider_onemin.renditions.presets import resolve_channels

GOOD = {"name": "banner", "width": 1200, "height": 628, "fit": "cover", "format": "webp", "quality": 75}


def test_the_six_built_in_presets_have_the_issue_sizes_and_formats() -> None:
    # The sizes and formats the channels ask for (issue 22), written out here.
    expected = {
        "amazon_main": (2000, 2000, "jpeg"),
        "amazon_lifestyle": (2000, 2000, "jpeg"),
        "shopify_square": (2048, 2048, "jpeg"),
        "instagram_portrait": (1080, 1350, "jpeg"),
        "instagram_story": (1080, 1920, "jpeg"),
        "web_thumbnail": (400, 400, "webp"),
    }
    presets = resolve_channels(list(expected))
    assert {p.name: (p.width, p.height, p.format) for p in presets} == expected
    assert all(p.source for p in presets), "each built-in preset names where its rules come from"


def test_an_unknown_preset_is_named_with_the_known_ones() -> None:
    with pytest.raises(OneMinValidationError) as caught:
        resolve_channels(["amazon_main", "amazn_lifestyle"])
    assert caught.value.violations == [
        "channels[1]: unknown preset 'amazn_lifestyle'; the built-in presets are amazon_main, amazon_lifestyle, "
        "shopify_square, instagram_portrait, instagram_story, web_thumbnail (or give a custom preset mapping: "
        "docs/renditions.md)"
    ]


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"width": 0}, "channels[0].width", "an integer from 16 to 10000"),
        ({"fit": "stretch"}, "channels[0].fit", "cover (fill the frame"),
        ({"format": "gif"}, "channels[0].format", "jpeg, png or webp"),
        ({"quality": 101}, "channels[0].quality", "an integer from 1 to 100"),
        ({"background": [255, 255]}, "channels[0].background", '"edge"'),
        ({"background": [0, 0, 300]}, "channels[0].background", '"edge"'),
        ({"name": "../up"}, "channels[0].name", "a name of 1 to 64"),
    ],
)
def test_a_bad_custom_preset_names_the_field_and_the_rule(change: dict, field: str, rule: str) -> None:
    with pytest.raises(OneMinValidationError) as caught:
        resolve_channels([{**GOOD, **change}])
    (line,) = caught.value.violations
    assert line.startswith(f"{field}: ") and rule in line, line


def test_a_missing_field_and_an_unknown_one_are_both_reported() -> None:
    spec = {key: value for key, value in GOOD.items() if key != "height"} | {"dpi": 300}
    with pytest.raises(OneMinValidationError) as caught:
        resolve_channels(["web_thumbnail", spec])
    text = "\n".join(caught.value.violations)
    assert "channels[1].height: is required" in text
    assert "channels[1]: Additional properties are not allowed ('dpi' was unexpected)" in text


def test_a_channel_given_twice_is_refused() -> None:
    with pytest.raises(OneMinValidationError, match="'web_thumbnail' is given 2 times"):
        resolve_channels(["web_thumbnail", {**GOOD, "name": "web_thumbnail"}])


def test_a_good_custom_preset_is_kept() -> None:
    (preset,) = resolve_channels([{**GOOD, "background": [250, 250, 250]}])
    assert (preset.name, preset.width, preset.height, preset.fit, preset.format, preset.quality) == (
        "banner",
        1200,
        628,
        "cover",
        "webp",
        75,
    )
    assert preset.background == (250, 250, 250)


def test_a_literal_bad_channel_fails_the_dag_import(tmp_path) -> None:
    with pytest.raises(OneMinValidationError, match="unknown preset 'tiktok'"):
        RenditionsOperator(task_id="r", images=["/x.png"], channels=["tiktok"], output_path=str(tmp_path))
    # Templated channels are checked when the task runs, not at parse time.
    RenditionsOperator(
        task_id="t", images=["/x.png"], channels="{{ params.channels }}", output_path=str(tmp_path)
    )


@pytest.mark.parametrize("threshold", [-0.1, 1.5, "0.1", True])
def test_the_fidelity_threshold_is_a_number_from_0_to_1(threshold, tmp_path) -> None:
    with pytest.raises(Exception, match="fidelity_threshold: a number from 0 to 1"):
        RenditionsOperator(
            task_id="r",
            images=["/x.png"],
            channels=["web_thumbnail"],
            output_path=str(tmp_path),
            fidelity_threshold=threshold,
        )


def test_the_operator_default_threshold_is_the_documented_one() -> None:
    # The operator keeps its own copy so that a DAG file loads no rendering code; docs say 0.08.
    from airflow_provider_onemin.renditions.compliance import DEFAULT_FIDELITY_THRESHOLD

    operator = RenditionsOperator(
        task_id="d", images=["/x.png"], channels=["web_thumbnail"], output_path="/tmp/x"
    )
    assert operator.fidelity_threshold == DEFAULT_FIDELITY_THRESHOLD == 0.08
