"""Recognising each archive record shape by its content and turning it into canonical rows.

See ``docs/formats.md`` for every shape and how its fields map to columns.
"""
