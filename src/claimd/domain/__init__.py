"""Pure rules and types. Nothing here does I/O or imports another layer of claimd."""
