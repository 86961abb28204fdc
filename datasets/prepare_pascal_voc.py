#!/usr/bin/env python
"""Pascal VOC 2012 -> PAS-20 and PAS-21.

Re-runnable: finished files are skipped. See datasets/README.md.
"""
from gpa.data.preparation.pascal import main_voc

if __name__ == "__main__":
    main_voc()
