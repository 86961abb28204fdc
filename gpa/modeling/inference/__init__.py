"""Pure functions turning model outputs into results."""
