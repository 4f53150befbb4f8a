from django.urls import path

from twin import api, chat_views, views

urlpatterns = [
    path("clients/<str:client_id>/advice/", views.advice_timeline, name="advice-timeline"),
    path("clients/<str:client_id>/advice/brief", views.prepare_brief, name="advice-brief"),
    path("clients/<str:client_id>/advice/compare", views.compare_advice, name="advice-compare"),
    # The clients' chat with the twin, and the advisor's review queue
    path("chat/<str:client_id>/", chat_views.chat_page, name="twin-chat"),
    path("chat/<str:client_id>/say", chat_views.chat_say, name="twin-chat-say"),
    path("chat/<str:client_id>/back", chat_views.chat_back, name="twin-chat-back"),
    path("chat/<str:client_id>/corrections", chat_views.chat_correction, name="twin-chat-correction"),
    path("review/", chat_views.review_queue, name="twin-review"),
    path("review/answers/<int:pk>", chat_views.review_answer, name="twin-review-answer"),
    path("review/corrections/<int:pk>", chat_views.review_correction, name="twin-review-correction"),
]

api_urlpatterns = [
    path("clients/<str:client_id>/ask", api.AskView.as_view(), name="api-twin-ask"),
    path("clients/<str:client_id>/brief", api.BriefView.as_view(), name="api-twin-brief"),
    path("clients/<str:client_id>/advice", api.AdviceHistoryView.as_view(), name="api-advice-history"),
    path("clients/<str:client_id>/advice/<str:advice_id>", api.AdviceDetailView.as_view(), name="api-advice-detail"),
]
