"""Whole-volume translation speed and peak memory: does memory stay flat as the number of patches grows?

    .venv/bin/python benchmarks/translate_speed.py [--model pix2pix-7t-9t4] [--threads 2] [--readme]

Runs `mrigan.inference.Translator` (what `mrigan enhance` runs) on two volumes in fresh processes: Colin27 at
1 mm (181 x 217 x 181) and its central half along z, each timed end to end (normalise, stitch, map back) with
the process's peak resident memory (`ru_maxrss`) after loading the model and after translating.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import numpy as np
import torch
from mrigan.data.samples import load_sample
from mrigan.inference import Translator
torch.set_num_threads(int(sys.argv[2]))
volume = load_sample("colin27").t1
if sys.argv[3] == "half":
    z = volume.shape[2]
    volume = volume.with_data(volume.data[:, :, z // 4 : z // 4 + z // 2])
translator = Translator.from_path(sys.argv[1], device="cpu")
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.perf_counter()
result = translator.restore(volume, batch_size=16)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"shape": list(volume.shape), "seconds": seconds, "loaded_mb": loaded, "peak_mb": peak,
                  "patches": result.info["inference"].get("patches"), "name": translator.name}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pix2pix-7t-9t4")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--readme", action="store_true", help="also write the table into the README")
    args = parser.parse_args()
    lines = [f"torch CPU, {args.threads} threads; each size in a fresh process",
             "| model | volume | patches | seconds | peak MB after loading | peak MB after translating |",
             "|---|---|---|---|---|---|"]
    for size in ("half", "full"):
        output = subprocess.run([sys.executable, "-c", CHILD, args.model, str(args.threads), size],
                                check=True, capture_output=True, text=True).stdout
        row = json.loads(output.strip().splitlines()[-1])
        lines.append(f"| {row['name']} | {' x '.join(map(str, row['shape']))} | {row['patches'] or 'whole slices'} | "
                     f"{row['seconds']:.1f} | {row['loaded_mb']:.0f} | {row['peak_mb']:.0f} |")
    print("\n".join(lines))
    if args.readme:
        from README_tables import write_readme_section  # benchmarks/ is on sys.path when a script runs

        write_readme_section("translation:speed", "`python benchmarks/translate_speed.py`:\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
