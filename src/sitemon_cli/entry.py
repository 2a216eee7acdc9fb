"""The ``sitemon-run`` console script: SIGTERM/SIGINT are caught from the first instant
(see ``early_signals``), then the command line is loaded and run."""

from __future__ import annotations

import sys

from sitemon_cli import early_signals


def main() -> int:
    """Install the early handlers, then run the CLI."""
    early_signals.install()
    from sitemon_cli.main import main as run_cli

    return run_cli()


if __name__ == "__main__":  # python -m sitemon_cli.entry (what --workers children run)
    sys.exit(main())
