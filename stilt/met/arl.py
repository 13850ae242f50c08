"""Placeholder: filled in by its work item."""
