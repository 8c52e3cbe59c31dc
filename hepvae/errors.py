"""Errors that reach the user as one line."""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any


class HepvaeError(Exception):
    """A problem with the user's input or environment, reported as one line without a traceback."""


class SchemaError(HepvaeError):
    """A file or array does not follow the hepvae ROOT schema."""


class ConfigError(HepvaeError):
    """A configuration file or option is invalid."""


class ParameterError(HepvaeError):
    """A parameter of a library call has a value that cannot work (or would fix the problem).

    The message is a :meth:`str.format` template: the fields given in ``values`` are filled
    with them, the other fields name parameters. ``str()`` shows the parameters' Python names,
    :meth:`named` other names, e.g. the command-line options that set them::

        ParameterError("{shards} {got} is more than {n} {total}", got=11, total=10)
        # str(): "shards 11 is more than n 10"; CLI: "--shards 11 is more than --n 10"
    """

    def __init__(self, template: str, **values: Any):
        self.template, self.values = template, values
        super().__init__(self.named(lambda parameter: parameter))

    @property
    def parameters(self) -> list[str]:
        """The parameters the message names, in order of mention."""
        fields = (field for _, field, _, _ in string.Formatter().parse(self.template) if field)
        return list(dict.fromkeys(f for f in fields if f not in self.values))

    def named(self, name: Callable[[str], str]) -> str:
        """The message with every parameter shown as ``name(parameter)``."""
        return self.template.format(**{p: name(p) for p in self.parameters}, **self.values)
