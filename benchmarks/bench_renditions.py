"""
Renditions: N source images of about 2048 px rendered into the six built-in presets, by the
provider's batch (``renditions.batch.run_batch``: checks, one decode per source, the compliance
report read back from every file, stored through ``storage/results.py``) against a plain Pillow
loop doing the same work in the same run: for each source and preset, open, convert, fit
(``ImageOps.fit`` for a crop, ``ImageOps.pad``/``contain`` for padding), save in the preset's
format and quality. Each side runs in a fresh interpreter, alternating, with its imports done
before the clock starts (a worker has Airflow loaded); the figures are images (sources) per
second and the peak RSS growth of the process once its imports are done.

    python benchmarks/bench_renditions.py --sources 100 --repetitions 2

Not in CI; ``run.py --only renditions`` runs it with the others' table.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Result, log, median, run_python, scratch_folder  # noqa: E402

_MAKE_SOURCES = """
import json, shutil, sys
from pathlib import Path
from PIL import Image, ImageDraw, ImageFilter
folder, count = Path(sys.argv[1]), int(sys.argv[2])
made = []
for variant in range(8):
    # A photo-like source: a white backdrop (so amazon_main accepts it), a product with texture.
    noise = Image.effect_noise((2048, 1536), 40).convert("RGB")
    image = Image.new("RGB", (2048, 1536), (255, 255, 255))
    product = Image.blend(Image.new("RGB", (1100, 1100), (40 + 25 * variant, 90, 160)), noise.crop((0, 0, 1100, 1100)), 0.3)
    mask = Image.new("L", (1100, 1100), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, 1099, 1099), fill=255)
    image.paste(product, (300 + 40 * variant, 200), mask.filter(ImageFilter.GaussianBlur(2)))
    if variant % 4 == 3:  # a quarter are cut-outs, as the Background Remover makes them
        cut = Image.new("RGBA", (2048, 2048), (0, 0, 0, 0))
        cut.paste(product.convert("RGBA"), (400, 500), mask)
        path = folder / f"v{variant}.png"
        cut.save(path)
    else:
        path = folder / f"v{variant}.jpg"
        image.save(path, quality=90)
    made.append(path)
sources = []
for index in range(count):
    template = made[index % len(made)]
    target = folder / f"s{index:03d}{template.suffix}"
    shutil.copyfile(template, target)
    sources.append(str(target))
print(json.dumps(sources))
"""

_OURS = """
import json, logging, resource, sys, time
sources, out = json.loads(sys.argv[1]), sys.argv[2]
from PIL import Image, ImageCms  # imports are paid before the clock, as in a running worker
import airflow.sdk, jsonschema
from airflow_provider_onemin.renditions import batch, compliance, render, sources as reading
from airflow_provider_onemin.renditions.batch import Names, run_batch
from airflow_provider_onemin.storage import results
from airflow_provider_onemin.renditions.presets import BUILT_IN
results.as_storage_path(out).fs  # the filesystem's one-time set-up per process
usage = resource.getrusage(resource.RUSAGE_SELF)
before, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
started = time.perf_counter()
stored, _ = run_batch(sources, list(BUILT_IN.values()), out, Names("bench", "run", "ours", -1),
                      conn_id=None, masks=[None] * len(sources), threshold=0.08, log=logging.getLogger("bench"))
elapsed = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu
files = sum(map(len, stored.values()))
print(json.dumps({"seconds": elapsed, "cpu": cpu, "peak_kib": usage.ru_maxrss - before, "files": files}))
"""

_BASELINE = """
import json, os, resource, sys, time
sources, out = json.loads(sys.argv[1]), sys.argv[2]
from PIL import Image, ImageOps
from airflow_provider_onemin.renditions.presets import BUILT_IN
usage = resource.getrusage(resource.RUSAGE_SELF)
before, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
started = time.perf_counter()
files = 0
for index, source in enumerate(sources):
    for preset in BUILT_IN.values():
        with Image.open(source) as image:
            if image.mode == "RGBA":
                flat = Image.new("RGB", image.size, (255, 255, 255))
                flat.paste(image, mask=image.getchannel("A"))
                image = flat
            else:
                image = image.convert("RGB")
            size = (preset.width, preset.height)
            if preset.fit == "cover":
                image = ImageOps.fit(image, size, Image.Resampling.LANCZOS)
            elif preset.fit == "longest_side":
                image = ImageOps.contain(image, size, Image.Resampling.LANCZOS)
            else:
                image = ImageOps.pad(image, size, Image.Resampling.LANCZOS, color=(255, 255, 255))
            folder = os.path.join(out, preset.name)
            os.makedirs(folder, exist_ok=True)
            options = {"quality": preset.quality} if preset.format in ("jpeg", "webp") else {}
            image.save(os.path.join(folder, f"image-{index}.{preset.format}"), format=preset.format.upper(), **options)
            files += 1
elapsed = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu
print(json.dumps({"seconds": elapsed, "cpu": cpu, "peak_kib": usage.ru_maxrss - before, "files": files}))
"""


def measure(env: dict[str, str], repetitions: int = 2, sources: int = 100) -> list[Result]:
    import json

    with scratch_folder("onemin-bench-renditions-") as scratch:
        paths = run_python(_MAKE_SOURCES, env, args=[str(scratch), str(sources)], timeout=600)
        listing = json.dumps(paths)
        ours: list[dict] = []
        theirs: list[dict] = []
        for index in range(repetitions):
            order = [(_OURS, ours, "ours"), (_BASELINE, theirs, "plain")]
            if index % 2:
                order.reverse()
            for code, samples, name in order:
                out = scratch / f"{name}-{index}"
                samples.append(run_python(code, env, args=[listing, str(out)], timeout=3600))
                shutil.rmtree(out, ignore_errors=True)
        log(f"renditions: ours {ours}; plain loop {theirs}")
    rate = [sources / s["seconds"] for s in ours]
    rate_base = [sources / s["seconds"] for s in theirs]
    cpu = [s["cpu"] / sources for s in ours]
    cpu_base = [s["cpu"] / sources for s in theirs]
    memory = [s["peak_kib"] / 1024 for s in ours]
    memory_base = [s["peak_kib"] / 1024 for s in theirs]
    detail = f"{sources} sources x 6 presets ({ours[0]['files']} files); {repetitions} repetition(s)"
    return [
        Result(
            name="renditions: CPU seconds per source (vs plain Pillow loop)",
            value=median(cpu),
            baseline=median(cpu_base),
            unit="s",
            goal=1.0,
            detail=f"{detail}; wall clock: ours {median(rate):.2f} images/s, plain loop "
            f"{median(rate_base):.2f} images/s (a shared machine: CPU time is the steadier figure)",
            samples={
                "ours_cpu_s_per_source": cpu,
                "baseline_cpu_s_per_source": cpu_base,
                "ours_images_per_s": rate,
                "baseline_images_per_s": rate_base,
            },
        ),
        Result(
            name="renditions: peak RSS growth (vs plain Pillow loop)",
            value=median(memory),
            baseline=median(memory_base),
            unit="MiB",
            goal=1.5,
            detail=detail,
            samples={"ours_mib": memory, "baseline_mib": memory_base},
        ),
    ]


def main() -> int:
    import os

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument("--repetitions", type=int, default=2)
    args = parser.parse_args()
    for result in measure(dict(os.environ), repetitions=args.repetitions, sources=args.sources):
        print(
            f"{result.name}: {result.value:.3f} {result.unit} vs {result.baseline:.3f} {result.unit} "
            f"= {result.ratio:.2f}x (goal <= {result.goal}x); {result.detail}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
