from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/jobs/<slug:uid>/", consumers.JobConsumer.as_asgi()),
    path("ws/dashboard/", consumers.DashboardConsumer.as_asgi()),
    path("ws/s/<slug:secret>/", consumers.SharedJobConsumer.as_asgi()),
]
