"""The pages: server-rendered views, their presenters, markdown and template tags."""
