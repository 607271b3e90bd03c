"""The API's routers: health and metrics, clusters, snapshots, analysis."""
