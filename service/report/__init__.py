"""Renderers of engine results: JSON, CSV, markdown (PR comments), DOT, plain text."""
