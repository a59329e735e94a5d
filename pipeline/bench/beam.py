"""`flowers bench --beam`: ExampleGen and Transform on Beam's DirectRunner, in-process against 2 workers."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from pipeline import configs
from pipeline.runners import local, output_guard

MULTI_PROCESSING = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")


def run_beam_bench(data: str, output: str, work_dir: str) -> dict[str, Any]:
    """ExampleGen + Transform on the DirectRunner, in-process vs 2 worker processes.

    Both runs start from empty work dirs (no cache) in this one command, one
    after the other; the figures are each component's wall time from MLMD.
    """
    modes = {"in_process": ("--direct_running_mode=in_memory",), "multi_processing_2_workers": MULTI_PROCESSING}
    report: dict[str, Any] = {"data": data, "beam_args": {k: list(v) for k, v in modes.items()}}
    scratch = output_guard.scratch_output(work_dir, data)
    for mode, beam_args in modes.items():
        config = configs.RunConfig(data=data, output=os.path.join(scratch, mode), beam_args=list(beam_args))
        started = time.perf_counter()
        summary = local.run(config, stop_after="Transform", enable_cache=False)
        seconds = summary["stage_seconds"]
        report[mode] = {
            "FileBasedExampleGen": seconds["FileBasedExampleGen"],
            "StatisticsGen": seconds["StatisticsGen"],
            "Transform": seconds["Transform"],
            "wall": round(time.perf_counter() - started, 1),
            "images": sum(v for k, v in summary["counts"].items() if k != "quarantined"),
        }
    base, multi = report["in_process"], report["multi_processing_2_workers"]
    report["speedup"] = {
        key: round(base[key] / multi[key], 2) for key in ("FileBasedExampleGen", "Transform", "wall") if multi[key]
    }
    report["examplegen_images_per_second"] = {
        mode: round(report[mode]["images"] / report[mode]["FileBasedExampleGen"], 1) for mode in modes
    }
    with open(output, "w") as f:
        json.dump(report, f, indent=2)
    return report
