"""Packaged configuration data (YAML). Loaded through importlib.resources."""
