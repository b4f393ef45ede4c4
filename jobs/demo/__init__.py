"""The demo: fixture jobs, deterministic mock history, and the live simulator."""
