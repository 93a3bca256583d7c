"""Tests on a real local Ray cluster (a package, so its package-scoped cluster is shut down
after its last test rather than at the end of the session)."""
