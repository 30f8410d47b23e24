"""`python -m campaigndb.migrations`: print the bundled alembic config's path, for
`alembic -c "$(python -m campaigndb.migrations)" upgrade head`."""

from campaigndb.migrations import alembic_ini

print(alembic_ini())
