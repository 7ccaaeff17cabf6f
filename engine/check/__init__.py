"""Policy as code: committed IAM policies held against the calls the trail shows (``trailsmith check``)."""
