"""The local wing: the foundation (`LocalFoundation`), domain services and the sandbox's MinIO users on an
existing laptop cluster.

MinIO for the lake, CloudNativePG for PostgreSQL, ingress-nginx; no `aws:` resource. Only
`components/foundations.py` picks this wing; the shared modules in `components/` see it through the
`Foundation` protocol (`components/interfaces.py`).

Type tokens keep the module names of the flat layout (`dataplatform:foundation_local:LocalFoundation`):
they are part of every URN, so changing one would replace the resources below it.
"""
