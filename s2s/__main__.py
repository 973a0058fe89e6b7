"""``python -m s2s`` runs the command line."""

from .cli import main

raise SystemExit(main())
