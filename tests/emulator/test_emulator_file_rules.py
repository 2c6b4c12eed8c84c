"""
The contract's rules on the files a request names, as the emulator applies them over HTTP.

Seed: "Per-file maximum size: 10 MB; Total size of style references: <= 10 MB across all files;
Formats: JPEG, PNG, WebP"; the contract: "The source image obeys the same format and 10 MB
limit." Sizes here stay clear of the gap between 10**7 and 10 * 2**20 bytes, which the contract
leaves open.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from emulator_helpers import encode, feature_body, product_on_white

if TYPE_CHECKING:
    from collections.abc import Callable

    import requests

    from airflow_provider_onemin.emulator.server import EmulatorServer

OVER = 11_000_000  # over 10 MB whichever megabyte is meant
UNDER = 9_000_000  # under it either way


def _png_of(size: int) -> bytes:
    """A readable PNG of exactly ``size`` bytes (a small picture, then bytes a reader skips)."""
    data = encode(product_on_white((64, 48)))
    return data + b"\0" * (size - len(data))


def _gif() -> bytes:
    return encode(product_on_white((64, 48)).convert("P"), "GIF")


def _post(emu: EmulatorServer, api: requests.Session, body: dict[str, Any]) -> requests.Response:
    return api.post(f"{emu.url}/api/features", json=body, timeout=60)


def _refused_naming(answer: requests.Response, field: str) -> list[str]:
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["errorCode"] == "EXTERNAL_API_RESPONSE_WITH_ERROR", error
    lines = json.loads(error["details"])["violations"]
    assert any(line.startswith(field + ":") for line in lines), lines
    return lines


@pytest.mark.parametrize(("size", "accepted"), [(UNDER, True), (OVER, False)])
def test_the_source_image_size(
    emu: EmulatorServer, api: requests.Session, upload: Callable[..., str], size: int, accepted: bool
) -> None:
    key = upload(_png_of(size))
    answer = _post(emu, api, feature_body(image_url=key))
    if accepted:
        assert answer.status_code == 200, answer.text
        assert emu.charges() == 1
    else:
        _refused_naming(answer, "promptObject.imageUrl")
        assert emu.charges() == 0 and emu.records == []


@pytest.mark.parametrize(
    ("sizes", "accepted", "field"),
    [
        ([UNDER], True, None),
        ([2_000_000] * 5, True, None),
        ([OVER], False, "promptObject.style_reference_images[0]"),
        ([6_000_000, 6_000_000], False, "promptObject.style_reference_images"),  # 12 MB together
        ([1_000, 1_000, OVER], False, "promptObject.style_reference_images[2]"),
    ],
)
def test_the_style_reference_sizes(
    emu: EmulatorServer,
    api: requests.Session,
    upload: Callable[..., str],
    sizes: list[int],
    accepted: bool,
    field: str | None,
) -> None:
    references = [upload(_png_of(size), f"style{index}.png") for index, size in enumerate(sizes)]
    answer = _post(emu, api, feature_body(style_reference_images=references))
    if accepted:
        assert answer.status_code == 200, answer.text
        assert emu.charges() == 1
    else:
        assert field is not None
        _refused_naming(answer, field)
        assert emu.charges() == 0 and emu.records == []


def test_a_gif_style_reference_is_refused(
    emu: EmulatorServer, api: requests.Session, upload: Callable[..., str]
) -> None:
    references = [upload(encode(product_on_white((64, 48)))), upload(_gif(), "style.gif", "image/gif")]
    lines = _refused_naming(
        _post(emu, api, feature_body(style_reference_images=references)),
        "promptObject.style_reference_images[1]",
    )
    assert "GIF" in " ".join(lines)
    assert emu.charges() == 0


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_each_allowed_format_is_taken(
    emu: EmulatorServer, api: requests.Session, upload: Callable[..., str], fmt: str
) -> None:
    data = encode(product_on_white((64, 48)), fmt)
    key = upload(data, f"photo.{fmt.lower()}", f"image/{fmt.lower()}")
    answer = _post(emu, api, feature_body(image_url=key, style_reference_images=[key]))
    assert answer.status_code == 200, answer.text


def test_an_earlier_result_and_an_unheld_path_are_taken_as_references(
    emu: EmulatorServer, api: requests.Session
) -> None:
    first = _post(emu, api, feature_body()).json()["aiRecord"]
    result_key = first["aiRecordDetail"]["resultObject"][0]
    answer = _post(
        emu, api, feature_body(style_reference_images=[result_key, "development/images/elsewhere.png"])
    )
    assert answer.status_code == 200, answer.text
    assert emu.charges() == 2


def test_a_link_to_a_missing_asset_on_the_emulator_is_refused(
    emu: EmulatorServer, api: requests.Session
) -> None:
    missing = f"{emu.url}/asset/development/images/never_uploaded.png"
    _refused_naming(
        _post(emu, api, feature_body(style_reference_images=[missing])),
        "promptObject.style_reference_images[0]",
    )
    assert emu.charges() == 0
