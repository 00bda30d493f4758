"""Ingest: from a department's file or database table to a clean, versioned lake snapshot."""
