"""
The emulator's Background Remover over HTTP: the contract's row "BACKGROUND_REMOVER stable-image
(also clipdrop, recraft) | imageUrl*, output_format", and its transparent cut-outs.

Expected outcomes come from that row and from the source image drawn here (its corners are
backdrop, its middle is the product), not from the emulator's code.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image, ImageDraw

if TYPE_CHECKING:
    import requests

    from airflow_provider_onemin.emulator.server import EmulatorServer

MODELS = ("stable-image", "clipdrop", "recraft")
PRODUCT = (30, 60, 200)


def _source() -> bytes:
    image = Image.new("RGB", (160, 120), (240, 240, 238))
    ImageDraw.Draw(image).ellipse((50, 30, 110, 90), fill=PRODUCT)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _body(model: str = "stable-image", **prompt_object: Any) -> dict[str, Any]:
    return {"type": "BACKGROUND_REMOVER", "model": model, "promptObject": prompt_object}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("output_format", "served"), [("png", "PNG"), ("webp", "WEBP"), (None, "PNG")])
def test_each_model_answers_one_transparent_cut_out_and_charges_once(
    emu: EmulatorServer, api: requests.Session, model: str, output_format: str | None, served: str
) -> None:
    source = emu.add_asset(_source(), "ball.png")
    fields = (
        {"imageUrl": source}
        if output_format is None
        else {"imageUrl": source, "output_format": output_format}
    )
    answer = api.post(f"{emu.url}/api/features", json=_body(model, **fields), timeout=30)

    assert answer.status_code == 200, answer.text
    record = answer.json()["aiRecord"]
    assert (record["type"], record["model"], record["status"]) == ("BACKGROUND_REMOVER", model, "SUCCESS")
    (key,) = record["aiRecordDetail"]["resultObject"]
    assert emu.charges() == 1
    download = api.get(f"{emu.url}/asset/{key}", timeout=30)
    assert download.status_code == 200
    image = Image.open(io.BytesIO(download.content))
    assert image.format == served and image.mode == "RGBA"
    assert download.headers["content-type"] == f"image/{served.lower()}"
    assert image.getpixel((0, 0))[3] == 0 and image.getpixel((159, 119))[3] == 0, "backdrop transparent"
    assert image.getpixel((80, 60)) == (*PRODUCT, 255), "product kept"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (_body(output_format="png"), "promptObject.imageUrl", "MISSING_REQUIRED_FIELDS"),
        (
            _body(imageUrl="development/images/x.png", output_format="gif"),
            "promptObject.output_format",
            "UNKNOWN_ERROR",
        ),
        (
            _body(imageUrl="development/images/x.png", prompt="a beach"),
            "promptObject.prompt",
            "UNKNOWN_ERROR",
        ),
        (
            _body(imageUrl="development/images/x.png", num_images=2),
            "promptObject.num_images",
            "UNKNOWN_ERROR",
        ),
    ],
)
def test_a_body_the_row_does_not_allow_is_refused_and_not_charged(
    emu: EmulatorServer, api: requests.Session, body: dict[str, Any], field: str, code: str
) -> None:
    answer = api.post(f"{emu.url}/api/features", json=body, timeout=30)

    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["errorCode"] == code, error
    named = {line.split(":", 1)[0] for line in json.loads(error["details"])["violations"]}
    assert field in named
    assert emu.charges() == 0 and emu.records == []


def test_an_unlisted_model_is_refused_naming_the_served_ones(
    emu: EmulatorServer, api: requests.Session
) -> None:
    answer = api.post(
        f"{emu.url}/api/features", json=_body("ideogram-3", imageUrl="development/images/x.png"), timeout=30
    )

    assert answer.status_code == 400
    error = answer.json()
    assert error["errorCode"] == "UNSUPPORTED_MODEL"
    assert json.loads(error["details"])["supported"] == sorted(MODELS)
    assert emu.charges() == 0
