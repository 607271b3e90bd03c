"""The HTTP API: routers, request/response schemas, auth, pagination, one error envelope.

Routes translate HTTP to use-case calls and back; they hold no SQL and no analysis.
"""
