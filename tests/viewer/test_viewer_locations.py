"""
Which stored files the viewer may open: the deployment's ``[onemin] viewer_locations``, read with
Airflow's own configuration machinery, against URIs a task (or an XCom editor) could write.

Real folders, symlinks and FIFOs on disk; the setting comes from the environment as a deployment
sets it. tests/viewer/test_viewer.py runs the same rules through the api-server.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airflow_provider_onemin.viewer.locations import (
    LocationRefused,
    check_owner,
    configured_locations,
    describe,
    open_allowed,
    parse_location,
    resolve,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    out = tmp_path / "out"
    sibling = tmp_path / "out-sibling"
    for folder in (out / "dag" / "run", sibling):
        folder.mkdir(parents=True)
    (out / "dag" / "run" / "result-0.png").write_bytes(PNG)
    (sibling / "result-0.png").write_bytes(PNG)
    return {"out": out, "sibling": sibling, "secret": tmp_path / "secret.txt"}


def _local(out: Path) -> list:
    return [parse_location(f"file://{out}")]


def test_a_file_inside_a_configured_folder_is_opened_with_no_connection(folders):
    out = folders["out"]
    allowed = resolve(f"file://{out}/dag/run/result-0.png", None, _local(out))
    assert allowed.conn_id is None and allowed.local_path == str(out / "dag" / "run" / "result-0.png")
    with open_allowed(allowed) as handle:
        assert handle.read() == PNG
    # A plain absolute path is the same file.
    assert resolve(f"{out}/dag/run/result-0.png", None, _local(out)).local_path == allowed.local_path


@pytest.mark.parametrize(
    "uri",
    [
        "file:///etc/passwd",
        "/etc/passwd",
        "file://{sibling}/result-0.png",  # same name prefix, another folder
        "file://{out}/../out-sibling/result-0.png",
        "file://{out}/dag/../../out-sibling/result-0.png",
        "file://{out}",  # the folder itself
        "file://{out}/",
        "file://otherhost{out}/dag/run/result-0.png",
        "file:{out}/dag/run/result-0.png",  # not absolute once parsed
        "relative/result-0.png",
        "file://{out}/dag/run/result-0.png?x=1",
        "file://{out}/dag/run/result-0.png\x00.png",
        "s3://bucket/{out}/dag/run/result-0.png",  # another scheme than the folder's
        "",
    ],
)
def test_local_uris_outside_the_folder_are_refused(folders, uri):
    with pytest.raises(LocationRefused):
        resolve(uri.format(**folders), None, _local(folders["out"]))


def test_a_symlink_is_judged_by_where_it_points(folders):
    out, sibling = folders["out"], folders["sibling"]
    folders["secret"].write_text("root:x:0:0")
    (out / "escape.png").symlink_to(sibling / "result-0.png")
    (out / "secret.png").symlink_to(folders["secret"])
    (out / "alias.png").symlink_to(out / "dag" / "run" / "result-0.png")
    (out / "linked-dir").symlink_to(sibling)
    for name in ("escape.png", "secret.png", "linked-dir/result-0.png"):
        with pytest.raises(LocationRefused):
            resolve(f"file://{out}/{name}", None, _local(out))
    assert resolve(f"file://{out}/alias.png", None, _local(out)).local_path.endswith("/dag/run/result-0.png")


def test_a_configured_folder_reached_through_a_symlink_still_contains_its_files(folders, tmp_path):
    (tmp_path / "mounted").symlink_to(folders["out"])
    locations = [parse_location(str(tmp_path / "mounted"))]
    assert resolve(f"{folders['out']}/dag/run/result-0.png", None, locations).local_path


def test_a_local_result_claiming_a_connection_is_refused(folders):
    with pytest.raises(LocationRefused, match="connection 'onemin_default'"):
        resolve(f"file://{folders['out']}/dag/run/result-0.png", "onemin_default", _local(folders["out"]))


def test_a_fifo_inside_the_folder_is_not_opened(folders):
    fifo = folders["out"] / "pipe.png"
    os.mkfifo(fifo)
    allowed = resolve(f"file://{fifo}", None, _local(folders["out"]))
    with pytest.raises(LocationRefused, match="regular file"):
        open_allowed(allowed)


S3_LOCATIONS = ["s3://aws_marketing@marketing-assets/backgrounds/", "gs://other-store/out"]


@pytest.mark.parametrize(
    ("uri", "conn_id", "opened_as"),
    [
        ("s3://marketing-assets/backgrounds/d/r/result-0.png", "aws_marketing", "aws_marketing"),
        ("gs://other-store/out/result-0.png", None, None),
    ],
)
def test_an_object_inside_a_configured_prefix_is_read_with_the_configured_connection(uri, conn_id, opened_as):
    allowed = resolve(uri, conn_id, [parse_location(t) for t in S3_LOCATIONS])
    assert allowed.uri == uri and allowed.conn_id == opened_as and allowed.local_path is None


@pytest.mark.parametrize(
    ("uri", "conn_id"),
    [
        ("s3://another-bucket/backgrounds/result-0.png", "aws_marketing"),
        ("s3://marketing-assets/backgrounds-private/result-0.png", "aws_marketing"),
        ("s3://marketing-assets/other/result-0.png", "aws_marketing"),
        ("s3://marketing-assets/backgrounds/../private/result-0.png", "aws_marketing"),
        ("s3://marketing-assets/backgrounds//result-0.png", "aws_marketing"),
        ("s3://marketing-assets/backgrounds", "aws_marketing"),
        ("s3://aws_admin@marketing-assets/backgrounds/result-0.png", "aws_marketing"),
        ("s3://AKIA:secret@marketing-assets/backgrounds/result-0.png", "aws_marketing"),
        ("s3://marketing-assets/backgrounds/result-0.png?versionId=1", "aws_marketing"),
        ("s3://marketing-assets/backgrounds/result-0.png", "aws_admin"),  # a connection not named
        ("s3://marketing-assets/backgrounds/result-0.png", None),
        ("gs://other-store/out/result-0.png", "google_cloud_default"),
        ("s3a://marketing-assets/backgrounds/result-0.png", "aws_marketing"),
        ("file:///marketing-assets/backgrounds/result-0.png", None),
    ],
)
def test_objects_outside_the_prefixes_or_with_another_connection_are_refused(uri, conn_id):
    with pytest.raises(LocationRefused):
        resolve(uri, conn_id, [parse_location(t) for t in S3_LOCATIONS])


@pytest.mark.parametrize(
    "entry",
    ["relative/out", "s3://", "s3://bucket/../x", "s3://user:hunter2@bucket/x", "file://host/x"],
)
def test_a_malformed_setting_is_refused_whole_and_names_no_secret(monkeypatch, entry):
    monkeypatch.setenv("AIRFLOW__ONEMIN__VIEWER_LOCATIONS", f"/data/out, {entry}")
    with pytest.raises(ValueError, match="viewer_locations") as error:
        configured_locations()
    assert "hunter2" not in str(error.value)


def test_the_setting_comes_from_airflow_configuration(monkeypatch):
    monkeypatch.delenv("AIRFLOW__ONEMIN__VIEWER_LOCATIONS", raising=False)
    # Unset: only the example DAGs' local folder (docs/viewer.md), no object store.
    assert [(loc.scheme, loc.conn_id) for loc in configured_locations()] == [("file", None)]
    assert resolve("/tmp/onemin-out/d/r/t/result-0.png", None, configured_locations()).local_path
    monkeypatch.setenv(
        "AIRFLOW__ONEMIN__VIEWER_LOCATIONS", "/data/out,\n s3://aws_marketing@marketing-assets/backgrounds/"
    )
    assert [(loc.scheme, loc.bucket, loc.conn_id) for loc in configured_locations()] == [
        ("file", "", None),
        ("s3", "marketing-assets", "aws_marketing"),
    ]
    with pytest.raises(LocationRefused):
        resolve("/tmp/onemin-out/d/r/t/result-0.png", None, configured_locations())


def test_a_team_reads_its_own_setting_not_the_deployment_wide_one(monkeypatch):
    from airflow.configuration import conf

    if "team_name" not in conf.get.__code__.co_varnames:
        pytest.skip("team-scoped settings need Airflow 3.2+")
    monkeypatch.setenv("AIRFLOW__ONEMIN__VIEWER_LOCATIONS", "s3://shared-bucket/out")
    monkeypatch.setenv("AIRFLOW__MARKETING___ONEMIN__VIEWER_LOCATIONS", "s3://aws_marketing@marketing/out")
    assert [loc.bucket for loc in configured_locations("marketing")] == ["marketing"]
    assert [loc.bucket for loc in configured_locations()] == ["shared-bucket"]
    # A team without a setting of its own gets the default, not the deployment-wide folders.
    assert [loc.scheme for loc in configured_locations("finance")] == ["file"]


def test_log_lines_drop_credentials_and_queries():
    assert (
        describe("s3://AKIA:secret@bucket/k.png?X-Amz-Signature=abc") == "s3://bucket/k.png (query dropped)"
    )
    assert describe("/data/out/x.png") == "/data/out/x.png"


def test_an_s3_result_is_read_with_the_configured_connection_only(s3_server, s3_bucket) -> None:
    s3_server.client().put_object(Bucket=s3_bucket, Key="backgrounds/d/r/result-0.png", Body=PNG)
    uri = f"s3://{s3_bucket}/backgrounds/d/r/result-0.png"
    reader = [parse_location(f"s3://onemin_s3_reader@{s3_bucket}/backgrounds/")]
    with open_allowed(resolve(uri, "onemin_s3_reader", reader)) as handle:
        assert handle.read() == PNG
    # The same object under a location configured with a connection that may list but not read:
    # the read fails, so the configured connection is the one used.
    lister = [parse_location(f"s3://onemin_s3_lister@{s3_bucket}/backgrounds/")]
    with pytest.raises(Exception) as error:  # noqa: PT011 - s3fs's choice (PermissionError, OSError)
        with open_allowed(resolve(uri, "onemin_s3_lister", lister)) as handle:
            handle.read()
    assert "AccessDenied" in repr(error.value) or isinstance(error.value, PermissionError)


#: The run id and its folder name as docs/storage.md shows them (test_docs_match_code checks the
#: docs against the code), so the layout here is not computed by the code under test.
OWNER = {
    "dag_id": "shop",
    "run_id": "manual__2026-04-15T10:30:00+00:00",
    "task_id": "replace",
    "map_index": 2,
}
RUN_FOLDER = "manual__2026-04-15T10_30_00_00_00-d1e276ae"


def _owned(uri: str) -> None:
    locations = [parse_location("/data/out"), parse_location("s3://aws_m@assets/backgrounds")]
    check_owner(resolve(uri, "aws_m" if uri.startswith("s3") else None, locations), **OWNER)


@pytest.mark.parametrize(
    "prefix",
    ["/data/out", "/data/out/nested/output_path", "s3://assets/backgrounds", "s3://assets/backgrounds/x"],
)
def test_a_task_instance_may_show_the_files_the_operator_names_for_it(prefix):
    _owned(f"{prefix}/shop/{RUN_FOLDER}/replace/map-2/result-0.png")
    _owned(f"{prefix}/shop/{RUN_FOLDER}/replace/map-2/result-3.webp")


@pytest.mark.parametrize(
    "tail",
    [
        "other_dag/{run}/replace/map-2/result-0.png",
        "shop/another-run/replace/map-2/result-0.png",
        "shop/{run}/publish/map-2/result-0.png",
        "shop/{run}/replace/map-3/result-0.png",
        "shop/{run}/replace/result-0.png",  # the unmapped instance's file
        "shop/{run}/replace/map-2/manifest.csv",
        "shop/{run}/replace/map-2/result-x.png",
        "shop/{run}/replace/map-2/result-0.png.d/secret",
    ],
)
def test_a_task_instance_may_not_show_another_ones_files(tail):
    with pytest.raises(LocationRefused, match="not a result stored by this task instance"):
        _owned("/data/out/" + tail.format(run=RUN_FOLDER))
