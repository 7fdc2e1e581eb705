#!/usr/bin/env python
"""Generate the synthetic demo data (head CT phantoms with DICOM series, or cranial ultrasound phantoms).

Example:
    python scripts/generate_demo_data.py data/demo_ct --task ct --num-cases 24
    python scripts/generate_demo_data.py data/demo_us --task us --num-cases 48 --size 256 256
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from cranialseg.demo import ensure_demo_data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="output folder; its datalist.json is printed")
    parser.add_argument("--task", choices=("ct", "us"), default="ct")
    parser.add_argument("--num-cases", type=int, default=None, help="default: 24 (CT), 48 (US)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shape", type=int, nargs=3, metavar=("X", "Y", "Z"), help="CT grid (default 128 128 32)")
    parser.add_argument("--size", type=int, nargs=2, metavar=("X", "Y"), help="US image size (default 256 256)")
    parser.add_argument("--spacing", type=float, nargs="+", help="CT: 3 values in mm; US: 1 value in mm")
    parser.add_argument("--no-dicom", action="store_true", help="CT: skip the DICOM series")
    parser.add_argument("--num-png", type=int, default=5, help="US: PNG copies of the first N images")
    args = parser.parse_args(argv)
    kw: dict = {}
    if args.task == "ct":
        if args.size:
            parser.error("--size is for --task us; use --shape for CT")
        if args.shape:
            kw["shape"] = tuple(args.shape)
        if args.spacing:
            if len(args.spacing) != 3:
                parser.error(f"--spacing needs 3 values for CT, got {args.spacing}")
            kw["spacing"] = tuple(args.spacing)
    else:
        if args.shape:
            parser.error("--shape is for --task ct; use --size for US")
        if args.size:
            kw["size"] = tuple(args.size)
        if args.spacing:
            if len(args.spacing) != 1:
                parser.error(f"--spacing needs 1 value for US, got {args.spacing}")
            kw["spacing"] = args.spacing[0]
    path = ensure_demo_data(
        args.root,
        task=args.task,
        num_cases=args.num_cases,
        seed=args.seed,
        write_dicom=not args.no_dicom,
        num_png=args.num_png,
        **kw,
    )
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
