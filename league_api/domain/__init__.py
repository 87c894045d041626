"""Domain rules: what may happen to leagues, matches and tickets, independent of HTTP."""
