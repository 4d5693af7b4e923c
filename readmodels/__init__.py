"""Read side: read tables, projectors, queries, the projection engine and verify."""
