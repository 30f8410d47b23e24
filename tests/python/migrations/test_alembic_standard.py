"""pytest-alembic's standard checks, on a fresh database each (conftest.py here):

- test_single_head_revision: the history has one head;
- test_upgrade: base to head in one run;
- test_up_down_consistency: up one revision at a time, down one at a time to base, up again.

Its fourth default, test_model_definitions_match_ddl, does not apply: the schema is PL/pgSQL
and SQL, with no SQLAlchemy models to compare; the catalog comparisons in test_migrations.py
(every step down and up, and no drift from the declared sources) stand in for it.
"""

import pytest
from pytest_alembic.tests import (
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)

pytestmark = pytest.mark.migrations

__all__ = ["test_single_head_revision", "test_up_down_consistency", "test_upgrade"]
