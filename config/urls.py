from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Tuneboard administration"
admin.site.site_title = "Tuneboard admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("jobs.api.urls")),
    path("", include("jobs.web.urls")),
]
