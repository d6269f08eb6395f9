"""The migration files shipped in the package, and the rules for naming them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sre_platform.migrate import MigrationError, discover


def test_shipped_migrations_are_numbered_from_one_without_gaps() -> None:
    migrations = discover()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "create_items"
    assert all(m.sql.strip() for m in migrations)
    assert len({m.checksum for m in migrations}) == len(migrations)


@pytest.fixture
def migration_package(tmp_path: Path) -> Iterator[Path]:
    """An importable package `fake_migrations` to put migration files in."""
    package = tmp_path / "fake_migrations"
    package.mkdir()
    (package / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    yield package
    sys.path.remove(str(tmp_path))
    sys.modules.pop("fake_migrations", None)


def test_files_are_ordered_by_version_not_by_name(migration_package: Path) -> None:
    (migration_package / "0010_later.sql").write_text("SELECT 10;")
    (migration_package / "0002_earlier.sql").write_text("SELECT 2;")
    (migration_package / "README.txt").write_text("not a migration")
    assert [(m.version, m.name) for m in discover("fake_migrations")] == [
        (2, "earlier"),
        (10, "later"),
    ]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["1_short.sql"], "1_short.sql: migration files must be named NNNN_name.sql"),
        (["0001_Has-Caps.sql"], "must be named NNNN_name.sql"),
        (["0003_one.sql", "0003_two.sql"], "version 3 is used twice"),
    ],
)
def test_badly_named_or_duplicate_files_are_refused(
    migration_package: Path, files: list[str], message: str
) -> None:
    for name in files:
        (migration_package / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=message):
        discover("fake_migrations")
