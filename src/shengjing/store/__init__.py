"""The ground floor: the metadata database, its migrations, and the lake of Parquet snapshots."""
