"""
What a task process pays to read and write local paths, and what Airflow's hook lineage still
sees of the reads.

Each case runs in a process of its own, as a task does, since what matters is what the first
read of a process imports. The judge is independent of the provider: the modules every installed
provider declares in its own provider info (its filesystems and its asset URI handlers), and the
assets Airflow's own hook lineage collector reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Runs on every older Airflow minor in the CI matrix (.ci/airflow-matrix.sh).
pytestmark = pytest.mark.compat

SAMPLE = Path(__file__).resolve().parents[2] / "dags" / "sample_photos" / "mug.png"

#: Reads a photo as an operator's input and as a rendition's source, stores under a local folder,
#: then reports which of the modules the installed providers declare were imported.
_LOCAL_ONLY = r"""
import json, sys
from importlib.metadata import entry_points
from airflow_provider_onemin.inputs.images import read_image
from airflow_provider_onemin.renditions.sources import read_source
from airflow_provider_onemin.storage.location import check_output_writable
from airflow_provider_onemin.storage.results import write_file_atomically

photo, out = sys.argv[1], sys.argv[2]
base = check_output_writable(out)
read_image(photo, "promptObject.imageUrl")
read_source(photo, None, "images[0]")
write_file_atomically(base / "result.png", b"data")
loaded = set(sys.modules)  # before asking the providers: loading their info imports them
filesystems, asset_handlers = set(), set()
for entry in entry_points(group="apache_airflow_provider"):
    if entry.value.startswith("airflow_provider_onemin"):
        continue
    info = entry.load()()
    filesystems.update(info.get("filesystems", []))
    for handler in info.get("asset-uris", []) + info.get("dataset-uris", []):
        for key in ("handler", "factory", "to_openlineage_converter"):
            if handler.get(key):
                asset_handlers.add(handler[key].rsplit(".", 1)[0])
print(json.dumps({
    "filesystems": sorted(filesystems),
    "asset_handlers": sorted(asset_handlers),
    "loaded": sorted((filesystems | asset_handlers) & loaded),
    "fs": type(base.fs).__module__ + "." + type(base.fs).__name__,
}))
"""


def _run(script: str, *args: str, env: dict[str, str] | None = None) -> dict:
    run = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_task_on_local_paths_imports_no_provider_s_filesystem_or_asset_handler(tmp_path: Path) -> None:
    """
    Reading a local photo (as an input and as a rendition source) and storing under a local folder
    import none of the installed providers' filesystem modules or asset URI handlers: the amazon
    provider's bring boto3, about a fifth of a small task's CPU. No hook lineage reader is
    installed here, so nothing would have recorded the reads.
    """
    report = _run(_LOCAL_ONLY, str(SAMPLE), str(tmp_path / "out"))
    if not report["filesystems"] and not report["asset_handlers"]:
        pytest.skip("no provider filesystem or asset handler is installed here: nothing to leave out")
    assert report["loaded"] == [], f"imported for local paths only: {report['loaded']}"
    assert report["fs"] == "fsspec.implementations.local.LocalFileSystem"
    assert (tmp_path / "out" / "result.png").read_bytes() == b"data"


_READER_PLUGIN = """
from airflow.plugins_manager import AirflowPlugin

try:
    from airflow.sdk.lineage import HookLineageReader
except ImportError:  # Airflow 3.0 and 3.1
    from airflow.lineage.hook import HookLineageReader


class RecordingReader(HookLineageReader):
    pass


class RecordingReaderPlugin(AirflowPlugin):
    name = "recording_hook_lineage_reader"
    hook_lineage_readers = [RecordingReader]
"""

_READS_COLLECTED = r"""
import json, sys
from airflow_provider_onemin.inputs.images import read_image
from airflow_provider_onemin.renditions.sources import read_source
try:
    from airflow.sdk.lineage import get_hook_lineage_collector
except ImportError:  # Airflow 3.0 and 3.1
    from airflow.lineage.hook import get_hook_lineage_collector

photo = sys.argv[1]
read_image(photo, "promptObject.imageUrl")
read_source(photo, None, "images[0]")
collected = get_hook_lineage_collector().collected_assets
print(json.dumps({"inputs": sorted({info.asset.uri for info in collected.inputs}),
                  "counts": [info.count for info in collected.inputs]}))
"""


def test_with_a_hook_lineage_reader_every_read_is_collected(tmp_path: Path) -> None:
    """
    With a hook lineage reader installed (as the OpenLineage provider installs one), the reads go
    through Airflow's own tracking: the photo is an input asset, recorded by both reads.
    """
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "recording_reader.py").write_text(_READER_PLUGIN, encoding="utf-8")
    env = {**os.environ, "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins)}
    report = _run(_READS_COLLECTED, str(SAMPLE), env=env)
    assert report["inputs"] == [f"file://{SAMPLE}"], report
    assert sum(report["counts"]) >= 2, "both reads recorded: the input and the rendition source"
