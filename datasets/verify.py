#!/usr/bin/env python
"""Check registered datasets: files exist, counts agree, label ids fit the class list, 16-bit where needed.

    python datasets/verify.py gpa_ade20k_150_panoptic_val gpa_pascal_ctx_459_sem_seg_val
    python datasets/verify.py --extension toy gpa_toy_val      # a dataset of an extension (see gpa/extensions.py)

Exits with status 1 when a dataset has problems; each problem names the file and the fix.
"""
import argparse
import sys

import gpa.data  # noqa: F401  (registers the builtin datasets)
from gpa.argument_types import bounded_int
from gpa.data.verification import format_reports, verify_dataset
from gpa.extensions import load_extensions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", help="registered dataset names (see datasets/README.md)")
    parser.add_argument("--max-files", type=bounded_int(1, note=" (leave the option out to check every image)"),
                        default=None, help="check only the first N images of each (N >= 1)")
    parser.add_argument("--extension", action="append", default=[], metavar="NAME",
                        help="an installed gpa extension whose datasets to register first, as a config's EXTENSIONS "
                             "does (repeatable)")
    args = parser.parse_args(argv)
    load_extensions(args.extension, "--extension")
    reports = [verify_dataset(name, args.max_files) for name in args.names]
    print(format_reports(reports))
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
