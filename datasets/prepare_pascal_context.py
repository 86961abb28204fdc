#!/usr/bin/env python
"""Pascal Context 59 and 459 from the release's per-image label files.

Re-runnable: finished files are skipped. See datasets/README.md.
"""
from gpa.data.preparation.pascal import main_context

if __name__ == "__main__":
    main_context()
