"""The HTTP door: ThingsBoard-compatible REST API, the HTTP device API, health and OpenAPI.

The application is built by :func:`claimd.entrypoints.http.app.create_app`. This package module imports
none of its modules, so that they may import each other (``from claimd.entrypoints.http import errors``)
without an import cycle through it.
"""
