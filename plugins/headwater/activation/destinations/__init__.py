"""Destination types: config models (`models`), the registry, and one hook module per type."""
