"""Adapters: the ports of claimd.services implemented over SQL, Redis and crypto libraries."""
