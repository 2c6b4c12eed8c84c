"""
One payment per distinct image under real concurrency: a real deployment (the session's shared
one: scheduler with the LocalExecutor, several worker slots) runs two runs of one DAG at once, each with mapped lines that
render the same request (two lines with seed 7, one with seed 8), all with ``reuse=True`` and
one output folder, on a local folder and on S3 (moto's server).

The oracle is the emulator's: its charge count (``GET /_emulator/state``) equals the number of
distinct requests, it holds one generation per distinct seed, and every task instance's stored
file has the bytes the emulator rendered for its own request. Each repetition starts from an empty
output folder and a reset emulator; ``ONEMIN_CLAIM_RACE_REPEATS`` (default 1) repeats the race in
one deployment.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.support.airflow_helpers import REPO
from tests.support.deployment import AirflowDeployment

pytestmark = pytest.mark.deployment

DAG_ID = "claims_race"
SEEDS = [7, 7, 8]  # mapped lines: two render the same request (four task instances over two runs)
RUNS = 2
REPEATS = int(os.environ.get("ONEMIN_CLAIM_RACE_REPEATS", "1"))
S3_CONN_ID = "onemin_s3_claims"
RENDER_SECONDS = 4.0  # long enough for the other lines to start while the first one renders

_DAG = """
from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

with DAG(
    dag_id={dag_id!r},
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=2,
    params={{"out": ""}},
):
    BackgroundReplacerOperator.partial(
        task_id="replace",
        prompt="a sunlit kitchen counter, morning light",
        image_url={photo!r},
        output_path="{{{{ params.out }}}}",
        reuse=True,
        poll_interval=0.2,
    ).expand(seed={seeds!r})
"""


@pytest.fixture(scope="module")
def deployment(shared_deployment, s3_server) -> AirflowDeployment:
    """
    The session's shared deployment (tests/support/shared_deployment.py: LocalExecutor, four worker
    slots, so that lines of both runs run at the same time) with this module's DAG in its scratch
    bundle and the S3 connection added through the REST API.
    """
    airflow = shared_deployment.airflow
    photo = str(REPO / "dags" / "sample_photos" / "mug.png")
    shared_deployment.write_dag("claims_race.py", _DAG.format(dag_id=DAG_ID, photo=photo, seeds=SEEDS))
    conn = s3_server.connection("admin")
    airflow.api(
        "POST",
        "/api/v2/connections",
        expect=201,
        json={
            "connection_id": S3_CONN_ID,
            "conn_type": conn["conn_type"],
            "login": conn["login"],
            "password": conn["password"],
            "extra": json.dumps(conn["extra"]),
        },
    )
    airflow.wait_for_dag(DAG_ID)
    return airflow


def _charges(emulator) -> int:
    return requests.get(f"{emulator.url}/_emulator/state", timeout=30).json()["charges"]["total"]


def _race(airflow: AirflowDeployment, emulator, out: str, read) -> None:
    """Two runs at once over one output folder; check the emulator's counts and every stored file."""
    from airflow_provider_onemin.emulator.result_images import result_png_now

    emulator.reset()
    emulator.set_latency(RENDER_SECONDS)
    started = time.monotonic()
    run_ids = [airflow.trigger(DAG_ID, conf={"out": out}) for _ in range(RUNS)]
    runs = [airflow.wait_for_run(DAG_ID, run_id, timeout=900) for run_id in run_ids]
    print(f"{RUNS} runs of {len(SEEDS)} lines took {time.monotonic() - started:.0f} s")
    report = "\n".join(airflow.run_report(DAG_ID, run_id) for run_id in run_ids)
    assert [run["state"] for run in runs] == ["success"] * RUNS, report

    # The emulator's view: one paid generation per distinct request, whoever asked and how often.
    assert _charges(emulator) == len(set(SEEDS)), report
    generations = {g.seed: g for g in emulator.records}
    assert sorted(g.seed for g in emulator.records) == sorted(set(SEEDS))

    waited = 0
    for run_id in run_ids:
        for map_index, seed in enumerate(SEEDS):
            stored = airflow.xcom(DAG_ID, run_id, "replace", "stored_paths", map_index=map_index)
            assert read(stored[0]) == result_png_now(generations[seed], 0), (run_id, map_index)
            log = airflow.task_log(DAG_ID, run_id, "replace", map_index=map_index)
            waited += "is being paid for by" in log
    # The race was real: some line found the request claimed and waited instead of paying.
    assert waited >= 1, report


@pytest.mark.parametrize("repeat", range(REPEATS))
def test_identical_lines_of_two_runs_at_once_pay_once_on_a_local_folder(
    deployment, onemin_emulator_server, tmp_path_factory, repeat
) -> None:
    out = tmp_path_factory.mktemp("out")
    _race(
        deployment,
        onemin_emulator_server,
        str(out),
        lambda uri: Path(uri.removeprefix("file://")).read_bytes(),
    )


@pytest.mark.parametrize("repeat", range(REPEATS))
def test_identical_lines_of_two_runs_at_once_pay_once_on_s3(
    deployment, onemin_emulator_server, s3_server, repeat
) -> None:
    bucket = s3_server.new_bucket()
    out = f"s3://{S3_CONN_ID}@{bucket}/out-{uuid.uuid4().hex[:6]}"
    _race(deployment, onemin_emulator_server, out, s3_server.read)
