"""Reads of conversations_app's tables, re-exported from the modules of this package."""
