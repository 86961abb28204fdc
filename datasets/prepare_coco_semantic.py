#!/usr/bin/env python
"""COCO semantic labels derived from the panoptic annotations.

Re-runnable: finished files are skipped. See datasets/README.md.
"""
from gpa.data.preparation.coco import main

if __name__ == "__main__":
    main()
