"""A local, in-memory engine for users' tests and ours."""
