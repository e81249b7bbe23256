"""The letter templates.

A package only so that setuptools' package-data globs (``*.j2``, ``*.css``) ship these files
in a wheel; nothing here is imported.
"""
