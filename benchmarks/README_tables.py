"""Run the bench suites and write their tables into the README between `<!-- bench:SUITE -->` markers.

    .venv/bin/python benchmarks/README_tables.py [denoise inpaint sr] [--slices N]

Every number in the README's bench section comes from this script (it calls `mrigan bench`'s code path and
pastes the table it prints), so the README can always be regenerated from a clean checkout.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from mrigan.bench.runner import run_suite
from mrigan.bench.suites import SUITES

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from mrigan.commands import _shipped_methods

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suites", nargs="*", default=list(SUITES))
    parser.add_argument("--slices", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    parser.add_argument("--no-readme", action="store_true", help="print only")
    args = parser.parse_args()
    for suite in args.suites:
        start = time.perf_counter()
        result = run_suite(suite, n_slices=args.slices, out_dir=args.out, models=_shipped_methods(suite))
        seconds = time.perf_counter() - start
        command = f"mrigan bench {suite}" + (f" --slices {args.slices}" if args.slices else "")
        took = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
        block = f"`{command}` ({took} on the 2-core CPU):\n\n{result.table}\n"
        print(block)
        if not args.no_readme:
            write_readme_section(f"bench:{suite}", block)


def write_readme_section(marker: str, block: str) -> None:
    """Replace what stands between `<!-- MARKER -->` and `<!-- /MARKER -->` in the README with `block`."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    pattern = re.compile(rf"(<!-- {re.escape(marker)} -->\n).*?(<!-- /{re.escape(marker)} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no <!-- {marker} --> section")
    readme.write_text(pattern.sub(lambda m: m.group(1) + block + m.group(2), text))


if __name__ == "__main__":
    main()
