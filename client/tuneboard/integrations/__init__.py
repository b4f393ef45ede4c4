"""Callbacks for training frameworks (imported on demand)."""
