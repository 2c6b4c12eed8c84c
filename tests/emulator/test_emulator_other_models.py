"""
The emulator's answers for the other Background Replacer models, over HTTP, as the contract's
"Other models and features" table states their fields (required ones, enum values, limits).

Expected outcomes come from that table; where two versions of an API page differ, the fields of
both are taken (issue 21). The provider's own schemas for these models are checked against these
rules in tests/schemas/test_model_rules_agree.py.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest
from contract_cases import INVALID, MISSING, Case

if TYPE_CHECKING:
    from collections.abc import Callable

    import requests

    from airflow_provider_onemin.emulator.server import EmulatorServer

SOURCE = {"prompt": "a marble kitchen counter", "imageUrl": "development/images/mug.png"}
BASES: dict[str, dict[str, Any]] = {
    "clipdrop": {},
    "gpt-image-1": {"size": "1024x1024"},
    "gpt-image-1-mini": {"size": "1024x1024"},
    "gpt-image-2": {"size": "1024x1024", "quality": "medium"},
    "recraft": {},
}


def _base(model: str) -> dict[str, Any]:
    return {"type": "BACKGROUND_REPLACER", "model": model, "promptObject": {**SOURCE, **BASES[model]}}


def _set(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda body: body["promptObject"].update(fields)


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda body: body["promptObject"].pop(name)


def _cases(model: str, *cases: Case) -> list[Case]:
    return [replace(case, id=f"{model}-{case.id}", base=_base(model)) for case in cases]


def _ok(case_id: str, change: Callable[[dict[str, Any]], None]) -> Case:
    return Case(case_id, change, True)


def _bad(case_id: str, change: Callable[[dict[str, Any]], None], field: str, code: str = INVALID) -> Case:
    return Case(case_id, change, False, "promptObject." + field, code)


def _gpt_image_1_cases(model: str) -> list[Case]:
    return _cases(
        model,
        _ok("required-only", lambda body: None),
        _bad("no-size", _drop("size"), "size", MISSING),
        _bad("no-prompt", _drop("prompt"), "prompt", MISSING),
        *(_ok(f"size-{size}", _set(size=size)) for size in ("1024x1024", "1024x1536", "1536x1024")),
        *(_bad(f"size-{size}", _set(size=size), "size") for size in ("512x512", "1024x1792", "auto")),
        *(_ok(f"quality-{quality}", _set(quality=quality)) for quality in ("low", "medium", "high")),
        _bad("quality-ultra", _set(quality="ultra"), "quality"),
        _ok("prompt-4000", _set(prompt="a" * 4000)),
        _bad("prompt-4001", _set(prompt="a" * 4001), "prompt"),
        *(_ok(f"n-{n}", _set(n=n)) for n in (1, 10)),
        *(_bad(f"n-{n}", _set(n=n), "n") for n in (0, 11)),
        *(_ok(f"output_format-{fmt}", _set(output_format=fmt)) for fmt in ("png", "jpeg", "webp")),
        _bad("output_format-gif", _set(output_format="gif"), "output_format"),
        *(_ok(f"output_compression-{c}", _set(output_compression=c)) for c in (0, 85, 100)),
        *(
            _bad(f"output_compression-{c}", _set(output_compression=c), "output_compression")
            for c in (-1, 101)
        ),
        *(_ok(f"background-{b}", _set(background=b)) for b in ("auto", "opaque", "transparent")),
        _bad("background-white", _set(background="white"), "background"),
        _bad("ideogram-num_images", _set(num_images=2), "num_images"),
    )


CASES: list[Case] = [
    *_cases(
        "clipdrop",
        _ok("required-only", lambda body: None),
        _bad("no-prompt", _drop("prompt"), "prompt", MISSING),
        _bad("no-imageUrl", _drop("imageUrl"), "imageUrl", MISSING),
        # One image; ideogram-3's fields are not clipdrop's.
        _bad("num_images", _set(num_images=2), "num_images"),
        _bad("style_preset", _set(style_preset="BAUHAUS"), "style_preset"),
    ),
    *_gpt_image_1_cases("gpt-image-1"),
    *_gpt_image_1_cases("gpt-image-1-mini"),
    *_cases(
        "gpt-image-2",
        _ok("required-only", lambda body: None),
        _bad("no-quality", _drop("quality"), "quality", MISSING),
        _bad("no-size", _drop("size"), "size", MISSING),
        # WxH: multiples of 16, 655,360 <= W*H <= 8,294,400, longest side <= 3840, ratio <= 3:1.
        *(
            _ok(f"size-{size}", _set(size=size))
            for size in (
                "1024x1024",
                "640x1024",
                "3840x2160",
                "2160x3840",
                "2880x960",
                "960x2880",
                "1008x1008",
            )
        ),
        _bad("size-not-multiple-of-16", _set(size="1000x1000"), "size"),
        _bad("size-too-few-pixels", _set(size="624x1024"), "size"),
        _bad("size-too-many-pixels", _set(size="3840x2176"), "size"),
        _bad("size-side-over-3840", _set(size="3856x1296"), "size"),
        _bad("size-ratio-over-3", _set(size="2896x960"), "size"),
        *(_bad(f"size-{size!r}", _set(size=size), "size") for size in ("1024", "1024*1024", "x", 1024)),
        *(_ok(f"quality-{quality}", _set(quality=quality)) for quality in ("low", "medium", "high")),
        _bad("quality-auto", _set(quality="auto"), "quality"),
        _ok("background-auto", _set(background="auto")),
        _bad("background-none", _set(background="none"), "background"),
        _bad("n", _set(n=2), "n"),
    ),
    *_cases(
        "recraft",
        _ok("required-only", lambda body: None),
        _ok("n-1", _set(n=1)),
        _bad("n-2", _set(n=2), "n"),
        _ok("style", _set(style="realistic_image", substyle="natural_light", negative_prompt="text")),
        _ok("task_type", _set(task_type="recraftv3")),
        _bad("task_type-other", _set(task_type="recraftv2"), "task_type"),
        _bad("no-imageUrl", _drop("imageUrl"), "imageUrl", MISSING),
    ),
]


def test_every_model_of_the_table_has_cases() -> None:
    models = {case.body()["model"] for case in CASES}
    assert models == {"clipdrop", "gpt-image-1", "gpt-image-1-mini", "gpt-image-2", "recraft"}
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_emulator_answers_each_model_as_the_contract_says(
    emu: EmulatorServer, api: requests.Session, case: Case
) -> None:
    body = case.body()
    answer = api.post(f"{emu.url}/api/features", json=body, timeout=30)
    if case.valid:
        assert answer.status_code == 200, answer.text
        record = answer.json()["aiRecord"]
        assert record["model"] == body["model"]
        assert len(record["aiRecordDetail"]["resultObject"]) == body["promptObject"].get("n", 1)
        assert emu.charges() == 1
        return
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["errorCode"] == case.code, error
    details = json.loads(error["details"])
    named = {line.split(":", 1)[0] for line in details["violations"]}
    assert case.field in named, details
    assert emu.charges() == 0 and emu.records == []
