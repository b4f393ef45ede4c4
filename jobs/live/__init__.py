"""Live updates: WebSocket consumers (one group per job, the dashboard), back-pressure."""
