"""The web view: static pages served at ``/ui/`` that call the public API from the browser,
like any dashboard (see :mod:`service.ui.router`)."""
