"""The operator's command line: ``annual-review --help``."""
