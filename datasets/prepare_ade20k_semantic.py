#!/usr/bin/env python
"""ADE20K-150 semantic labels shifted to 0..149 (255 = other).

Re-runnable: finished files are skipped. See datasets/README.md.
"""
from gpa.data.preparation.ade20k import main_semantic

if __name__ == "__main__":
    main_semantic()
