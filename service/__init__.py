"""netreach: who can talk to whom in a Kubernetes cluster."""

__version__ = "0.1.0"
