"""cli: thin faces over the one run function.

The ``conformance`` command (``command``, ``main``), its one-line user-input errors, the ``new-op``
scaffolding, the ``report`` subcommands and the pytest plugin.  Every face that runs
cells calls :func:`conformance.run`; nothing here holds test logic.

May import anything of conformance; nothing imports it.
"""
from conformance.cli.main import command, main

__all__ = ["command", "main"]
