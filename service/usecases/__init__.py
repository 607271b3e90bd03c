"""The application layer: record snapshots, load and compile them, run queries and diffs.

Owns no HTTP and no SQL: the API and the CLI call in; the store, the engine and the
renderers are called out to.
"""
