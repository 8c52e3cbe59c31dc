"""Errors that reach the user as one line."""


class HepvaeError(Exception):
    """A problem with the user's input or environment, reported as one line without a traceback."""


class SchemaError(HepvaeError):
    """A file or array does not follow the hepvae ROOT schema."""


class ConfigError(HepvaeError):
    """A configuration file or option is invalid."""
