"""Classification heads on top of the mask generator."""
