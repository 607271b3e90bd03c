"""Reads a live cluster through the Kubernetes API into documents netreach analyses.

An adapter at the edge, like :mod:`service.ingest`: it knows the Kubernetes API and the
object shapes netreach reads, and nothing of the engine beyond :mod:`service.engine.model`.
Importing it imports the Kubernetes client library; the CLI does so inside the command.
"""

from service.capture.cluster import DEFAULT_PAGE_SIZE, Capture, capture
from service.capture.errors import (
    ApiServerError,
    CaptureError,
    ConfigError,
    ForbiddenError,
    UnauthorizedError,
    UnreachableError,
)
from service.capture.kube import KubeApi, load_configuration
from service.capture.resources import RESOURCES, Resource

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "RESOURCES",
    "ApiServerError",
    "Capture",
    "CaptureError",
    "ConfigError",
    "ForbiddenError",
    "KubeApi",
    "Resource",
    "UnauthorizedError",
    "UnreachableError",
    "capture",
    "load_configuration",
]
