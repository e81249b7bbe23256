"""Rendering and packaging the Annual Review letter: templates, charts, PDF, email."""
