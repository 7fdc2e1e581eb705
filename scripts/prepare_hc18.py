#!/usr/bin/env python
"""Convert the HC18 fetal-head ultrasound folder into NIfTI images/masks and a fixed 240/60 datalist.

Example:
    python scripts/prepare_hc18.py --src ../shared/data/hc18_fetal_head_us --dst data/hc18 --size 384 256
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from cranialseg.demo.hc18 import prepare_hc18


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True, help="HC18 folder (images/, annotations/, pixel_size_and_HC.csv)")
    parser.add_argument("--dst", required=True, help="output folder")
    parser.add_argument("--size", type=int, nargs=2, metavar=("X", "Y"), help="resize to X columns, Y rows")
    parser.add_argument("--val-every", type=int, default=5, help="every N-th case goes to validation (5: 240/60)")
    parser.add_argument("--cases", nargs="+", help="only these file names, e.g. 000_HC.png")
    args = parser.parse_args(argv)
    path = prepare_hc18(args.src, args.dst, size=args.size, val_every=args.val_every, cases=args.cases)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
