from django.contrib import admin
from django.urls import path

admin.site.site_header = "Tuneboard administration"
admin.site.site_title = "Tuneboard admin"

urlpatterns = [
    path("admin/", admin.site.urls),
]
