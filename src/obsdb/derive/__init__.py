"""Derived data: true 1-minute and 10-minute bars, collection gaps, rolling statistics."""
