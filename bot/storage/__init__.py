"""Storage: the SQL tables, the database handle and the migrations."""
