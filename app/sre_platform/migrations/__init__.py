"""Versioned SQL migrations, applied in order by `sre_platform.migrate`."""
