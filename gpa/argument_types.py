"""argparse types for command-line numbers with a valid range: a value outside it is refused by argparse with
the option's name, instead of being accepted and doing nothing (a threshold of 5 keeps nothing)."""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["bounded_float", "bounded_int"]


def bounded_int(low: int, high: int | None = None, note: str = "") -> Callable[[str], int]:
    """An argparse type accepting integers in [low, high] (no upper bound when high is None)."""
    valid = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer; valid: {valid}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range; valid: {valid}{note}")
        return value

    return parse


def bounded_float(low: float, high: float | None = None, *, low_open: bool = False, note: str = ""
                  ) -> Callable[[str], float]:
    """An argparse type accepting finite numbers in [low, high] ((low, ...] when low_open)."""
    left = "(" if low_open else "["
    valid = f"a number in {left}{low}, {'inf)' if high is None else f'{high}]'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number; valid: {valid}") from None
        below = value <= low if low_open else value < low
        if not math.isfinite(value) or below or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range; valid: {valid}{note}")
        return value

    return parse
