"""``trailsmith policy``: least-privilege policies (being written)."""
