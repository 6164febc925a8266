"""Explore owns no tables: it reads the catalogue through models_app selectors."""
