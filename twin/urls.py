from django.urls import path

from twin import api, views

urlpatterns = [
    path("clients/<str:client_id>/advice/", views.advice_timeline, name="advice-timeline"),
    path("clients/<str:client_id>/advice/brief", views.prepare_brief, name="advice-brief"),
    path("clients/<str:client_id>/advice/compare", views.compare_advice, name="advice-compare"),
]

api_urlpatterns = [
    path("clients/<str:client_id>/ask", api.AskView.as_view(), name="api-twin-ask"),
    path("clients/<str:client_id>/brief", api.BriefView.as_view(), name="api-twin-brief"),
    path("clients/<str:client_id>/advice", api.AdviceHistoryView.as_view(), name="api-advice-history"),
    path("clients/<str:client_id>/advice/<str:advice_id>", api.AdviceDetailView.as_view(), name="api-advice-detail"),
]
