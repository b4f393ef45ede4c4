"""The floor every room stands on: validation, JSON values, pushing after commit, and the
daemon loop. Imports Django and the standard library only."""
