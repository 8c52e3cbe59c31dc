"""Errors that reach the user as one line."""

from __future__ import annotations

import re
from collections.abc import Callable


class HepvaeError(Exception):
    """A problem with the user's input or environment, reported as one line without a traceback."""


class SchemaError(HepvaeError):
    """A file or array does not follow the hepvae ROOT schema."""


class ConfigError(HepvaeError):
    """A configuration file or option is invalid."""


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class ParameterError(HepvaeError):
    """A parameter of a library call has a value that cannot work.

    The message names parameters in braces: ``ParameterError("{shards} 11 is more than {n} 10")``.
    ``str()`` shows their Python names (``shards 11 is more than n 10``); :meth:`named` shows
    other names, e.g. the command-line options that set them (``--shards 11 is more than --n 10``).
    """

    def __init__(self, template: str):
        self.template = template
        super().__init__(self.named(lambda parameter: parameter))

    @property
    def parameters(self) -> list[str]:
        """The parameters the message is about, in order of mention."""
        return _PLACEHOLDER.findall(self.template)

    def named(self, name: Callable[[str], str]) -> str:
        """The message with every parameter shown as ``name(parameter)``."""
        return _PLACEHOLDER.sub(lambda match: name(match.group(1)), self.template)
