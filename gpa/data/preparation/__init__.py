"""Conversions from the official downloads to the prepared layouts (run by the datasets/prepare_*.py scripts)."""
