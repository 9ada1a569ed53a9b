"""Script files that ``msrun`` runs (it takes a path, not a module)."""
