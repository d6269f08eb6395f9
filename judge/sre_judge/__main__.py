"""`python -m sre_judge [serve|judge]` (cli.py)."""

from .cli import main

raise SystemExit(main())
