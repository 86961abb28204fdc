#!/usr/bin/env python
"""ADE20K-Full (A-847) resized images and 16-bit labels.

Re-runnable: finished files are skipped. See datasets/README.md.
"""
from gpa.data.preparation.ade20k_full import main

if __name__ == "__main__":
    main()
