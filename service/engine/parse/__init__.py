"""Documents -> model objects, with Kubernetes-grade validation.

The only place that reads Kubernetes field names. :func:`parse_documents` accepts decoded
documents and returns :class:`ParsedObjects`, or raises one
:class:`~service.engine.model.ManifestError` listing every problem (document, kind,
namespace/name and field path).
"""

from service.engine.parse.parser import API_VERSIONS, MAX_PROBLEMS, parse_documents
from service.engine.parse.result import ParsedObjects

__all__ = ["API_VERSIONS", "MAX_PROBLEMS", "ParsedObjects", "parse_documents"]
