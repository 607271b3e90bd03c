"""The policy evaluator. Pure: Kubernetes objects in, answers out; no I/O, no web, no database."""
