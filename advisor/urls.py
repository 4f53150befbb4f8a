from django.urls import path

from advisor import views

urlpatterns = [
    path("", views.portal_home, name="portal-home"),
    path("viewpoints/", views.viewpoints, name="viewpoints"),
    path("clients/<str:client_id>/", views.client_detail, name="client-detail"),
    path("clients/<str:client_id>/sessions/new", views.record_session_view, name="record-session"),
    path("clients/<str:client_id>/sessions/<str:session_id>/retry-memory", views.retry_session_memory_view,
         name="retry-session-memory"),
    path("clients/<str:client_id>/sessions/<str:session_id>/", views.session_detail, name="session-detail"),
    path("clients/<str:client_id>/sessions/<str:session_id>/correct", views.correct_session_view, name="correct-session"),
    path("clients/<str:client_id>/audit/", views.client_audit, name="client-audit"),
    path("clients/<str:client_id>/export", views.client_export, name="client-export"),
    path("clients/<str:client_id>/erasure", views.client_erasure, name="client-erasure"),
    path("clients/<str:client_id>/memory", views.memory_search_view, name="memory-search"),
    path("clients/<str:client_id>/people/merges/<str:merge_id>", views.decide_person_merge_view,
         name="decide-person-merge"),
    path("clients/<str:client_id>/prices/<str:symbol>", views.price_chart, name="price-chart"),
]
