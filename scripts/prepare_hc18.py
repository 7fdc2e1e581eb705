#!/usr/bin/env python
"""Convert the HC18 fetal-head ultrasound folder into NIfTI images/masks and a datalist split by subject.

Example:
    # full resolution (evaluation on the original grid)
    python scripts/prepare_hc18.py --src ../shared/data/hc18_fetal_head_us --dst bundle/fetal_head_us_segmentation/data
    # a small copy for training elsewhere (longer side 384 px, spacing scaled so the physical size is kept)
    python scripts/prepare_hc18.py --src ../shared/data/hc18_fetal_head_us --dst .gpu/hc18 --max-size 384 \\
        --sections training validation
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from cranialseg.demo.hc18 import HC18_SECTIONS, prepare_hc18


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True, help="HC18 folder (images/, annotations/, pixel_size_and_HC.csv)")
    parser.add_argument("--dst", required=True, help="output folder")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--size", type=int, nargs=2, metavar=("X", "Y"), help="resize to X columns, Y rows")
    group.add_argument("--max-size", type=int, help="resize so the longer side is at most this (aspect kept)")
    parser.add_argument(
        "--fractions", type=float, nargs=3, default=[0.7, 0.1, 0.2], metavar=("TRAIN", "VAL", "TEST"),
        help="shares of subjects (fetuses) in training, validation and test (default 0.7 0.1 0.2)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    parser.add_argument("--cases", nargs="+", help="only these file names, e.g. 000_HC.png")
    parser.add_argument(
        "--sections", nargs="+", default=list(HC18_SECTIONS), choices=HC18_SECTIONS,
        help="sections whose images are written (e.g. training validation for a training-only copy)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    path = prepare_hc18(
        args.src,
        args.dst,
        size=args.size,
        max_size=args.max_size,
        fractions=args.fractions,
        seed=args.seed,
        cases=args.cases,
        sections=args.sections,
    )
    split = json.loads(path.read_text())["split"]
    print(f"{path}: subjects {split['subjects']}, images {split['images']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
