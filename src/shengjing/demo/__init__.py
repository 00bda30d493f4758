"""The synthetic Shenyang city (沈阳): reference data and a deterministic Parquet generator."""
