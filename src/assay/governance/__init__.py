"""Governance: classification of personal data, masks and tokens, access control by role,
the audit log, retention and legal holds, and erasure with proof.

Policies here are applied by the workflows above (ingest masks and drops columns, the
reader enforces roles, retention and erasure rewrite tables); this room imports only the
rooms below it (contracts, catalog, engines, tables).
"""
