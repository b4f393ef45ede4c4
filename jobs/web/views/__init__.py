"""The page views, one module per page; `jobs.web.urls` routes to them.

Views paint the first screen from the database (cards, header, stages, latest metric
values, error, config) and leave full metric series to the page's scripts, which read
them from the JSON API with `max_points` and then follow the job over its WebSocket.
They read through `jobs.selectors` and shape with `jobs.web.presenters`.
"""
