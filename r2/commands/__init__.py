"""Command-line commands, one module per topic. Add a module here to add its commands."""

from types import ModuleType

from r2.commands import audit, browse, bulk, catalog, cors, health, lifecycle, serve, upload, usage

COMMAND_MODULES: tuple[ModuleType, ...] = (audit, browse, bulk, catalog, cors, health, lifecycle, serve, upload, usage)
