"""etl-duck: ET:Legacy stopwatch stats as an embedded Parquet lake queried by DuckDB."""

__version__ = "0.1.0"
