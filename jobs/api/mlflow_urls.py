"""Routes of the MLflow tracking API, mounted at /api/2.0/ and /ajax-api/2.0/ (the
prefixes MLflow's client and UI use); `jobs/api/views/mlflow.py` answers them."""

from django.urls import path

from .views.mlflow import MlflowArtifactsView, MlflowView

urlpatterns = [
    path("mlflow/<path:operation>", MlflowView.as_view(), name="mlflow"),
    path(
        "mlflow-artifacts/<path:operation>", MlflowArtifactsView.as_view(), name="mlflow-artifacts"
    ),
]
