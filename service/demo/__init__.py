"""Demo manifests: a small shop in two versions (``v1.yaml``, ``v2.yaml``) for `make run`."""
