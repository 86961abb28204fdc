from .gpa import GPA

__all__ = ["GPA"]
