"""`python -m syncer` runs the CLI (the crash tests start it this way)."""

from syncer.cli import main

main()
