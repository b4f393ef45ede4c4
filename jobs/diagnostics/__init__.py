"""Diagnostics: rules that explain failed and unhealthy jobs, and the alerts they raise."""
