"""CLIP text side: prompt templates, the cached vocabulary classifier, synonym reduction."""
from .synonyms import max_over_synonyms
from .templates import PROMPT_TEMPLATE_REGISTRY, get_templates, template_set_names
from .text_classifier import TextClassifier, prompt_ensemble

__all__ = [
    "PROMPT_TEMPLATE_REGISTRY",
    "TextClassifier",
    "get_templates",
    "max_over_synonyms",
    "prompt_ensemble",
    "template_set_names",
]
