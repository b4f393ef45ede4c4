from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Tuneboard administration"
admin.site.site_title = "Tuneboard admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("jobs.api.urls")),
    # The MLflow tracking API (docs/mlflow.md): MLFLOW_TRACKING_URI points here.
    path("api/2.0/", include("jobs.api.mlflow_urls")),
    path("ajax-api/2.0/", include("jobs.api.mlflow_urls")),
    # A share link's data (before the pages, whose `s/<secret>/` prefix it shares).
    path("s/<slug:secret>/api/", include("jobs.api.share_urls")),
    path("", include("jobs.web.urls")),
]
