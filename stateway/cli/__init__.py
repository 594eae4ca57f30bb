"""The `stateway` command line."""
