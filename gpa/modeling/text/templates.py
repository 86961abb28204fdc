"""Prompt-template sets by name (MODEL.CLIP.PROMPT_TEMPLATES); each template has one "{}" for the class name."""
from __future__ import annotations

__all__ = ["TEMPLATE_SETS", "get_templates", "check_templates"]

# ViLD-style prompts: a plain photo prompt plus scene and object-size variants.
_VILD = (
    "a photo of a {}.",
    "This is a photo of a {}",
    "There is a {} in the scene",
    "There is the {} in the scene",
    "a photo of a {} in the scene",
    "a photo of a small {}.",
    "a photo of a medium {}.",
    "a photo of a large {}.",
    "This is a photo of a small {}.",
    "This is a photo of a medium {}.",
    "This is a photo of a large {}.",
    "There is a small {} in the scene.",
    "There is a medium {} in the scene.",
    "There is a large {} in the scene.",
)

TEMPLATE_SETS: dict[str, tuple[str, ...]] = {
    "vild": _VILD,
    "single": ("a photo of a {}.",),
}


def check_templates(templates: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Validate a template sequence: non-empty, each with exactly one "{}" placeholder."""
    if isinstance(templates, str):
        raise TypeError(
            f"templates must be a sequence of strings, got the string {templates!r}; "
            "for a named set use get_templates(name)"
        )
    templates = tuple(templates)
    if not templates:
        raise ValueError("the prompt-template list is empty; give at least one template such as 'a photo of a {}.'")
    for template in templates:
        if template.count("{}") != 1 or template.replace("{}", "").count("{") or template.replace("{}", "").count("}"):
            raise ValueError(f"prompt template {template!r} must contain exactly one '{{}}' and no other braces")
    return templates


def get_templates(name: str) -> tuple[str, ...]:
    """The template set registered as `name`."""
    if name not in TEMPLATE_SETS:
        valid = ", ".join(sorted(TEMPLATE_SETS))
        raise ValueError(f"unknown prompt-template set {name!r} (MODEL.CLIP.PROMPT_TEMPLATES); valid: {valid}")
    return TEMPLATE_SETS[name]
