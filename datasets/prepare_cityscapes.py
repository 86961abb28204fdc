#!/usr/bin/env python
"""Cityscapes trainId labels and panoptic annotations (cityscapesscripts).

Re-runnable: finished files are skipped. See datasets/README.md.
"""
from gpa.data.preparation.cityscapes import main

if __name__ == "__main__":
    main()
