"""Other trackers' formats and APIs: the MLflow tracking API, importers of existing runs."""
