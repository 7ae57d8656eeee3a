"""Command-line commands, one module per topic. Add a module here to add its commands."""

from types import ModuleType

COMMAND_MODULES: tuple[ModuleType, ...] = ()
