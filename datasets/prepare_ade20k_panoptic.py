#!/usr/bin/env python
"""ADE20K-150 panoptic and instance annotations.

Re-runnable: finished files are skipped. See datasets/README.md.
"""
from gpa.data.preparation.ade20k import main_panoptic

if __name__ == "__main__":
    main_panoptic()
