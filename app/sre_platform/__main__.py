"""`python -m sre_platform [serve|migrate]`."""

from .cli import main

raise SystemExit(main())
