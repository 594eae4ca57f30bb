"""stateway's benchmark: the same workflows on stateway and its peers, reported as ratios."""
