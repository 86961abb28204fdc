"""Prompt-template sets by name (MODEL.CLIP.PROMPT_TEMPLATES); each template has one "{}" for the class name.

A set is a function returning its templates, registered under its function name with
`@PROMPT_TEMPLATE_REGISTRY.register()`.
"""
from __future__ import annotations

from gpa.registry import NamedRegistry

__all__ = ["PROMPT_TEMPLATE_REGISTRY", "check_templates", "get_templates", "template_set_names"]

PROMPT_TEMPLATE_REGISTRY = NamedRegistry("PROMPT_TEMPLATES", "prompt-template set")
PROMPT_TEMPLATE_REGISTRY.__doc__ = "Functions returning a tuple of prompt templates, by MODEL.CLIP.PROMPT_TEMPLATES."


@PROMPT_TEMPLATE_REGISTRY.register()
def vild() -> tuple[str, ...]:
    """ViLD-style prompts: a plain photo prompt plus scene and object-size variants."""
    return (
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


@PROMPT_TEMPLATE_REGISTRY.register()
def single() -> tuple[str, ...]:
    """The one plain photo prompt."""
    return ("a photo of a {}.",)


def template_set_names() -> list[str]:
    """Names accepted by MODEL.CLIP.PROMPT_TEMPLATES."""
    return PROMPT_TEMPLATE_REGISTRY.names()


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
    return tuple(PROMPT_TEMPLATE_REGISTRY.get_for(name, "MODEL.CLIP.PROMPT_TEMPLATES")())
