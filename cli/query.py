"""``trailsmith query``: saved queries (being written)."""
