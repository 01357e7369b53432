"""A Serverless service: its compiled package, templates, names and resource graph."""
