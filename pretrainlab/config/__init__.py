"""The study's configuration: schema, loading, cross-field checks, lineage."""
