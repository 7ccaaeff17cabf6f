"""Seeded generator of synthetic CloudTrail archives in the S3 export layout."""
