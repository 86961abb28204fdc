"""CLIP text side: prompt templates, the cached vocabulary classifier, synonym reduction."""
from .synonyms import max_over_synonyms
from .templates import TEMPLATE_SETS, get_templates
from .text_classifier import TextClassifier, prompt_ensemble

__all__ = ["TEMPLATE_SETS", "TextClassifier", "get_templates", "max_over_synonyms", "prompt_ensemble"]
