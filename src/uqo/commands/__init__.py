"""Subcommands of the ``uqo`` command line, one module per area (see ``uqo.cli``)."""
