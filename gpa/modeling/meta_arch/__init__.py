from .gpa import GPA, resolve_vocabulary

__all__ = ["GPA", "resolve_vocabulary"]
