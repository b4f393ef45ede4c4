"""The page's markdown lives in `jobs.core.markdown` (comments pushed live render there
too); kept here for the pages' imports."""

from jobs.core.markdown import render_markdown

__all__ = ["render_markdown"]
