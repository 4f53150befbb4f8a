from django.urls import path

from twin import chat_views

urlpatterns = [
    # Clients' chat with the twin (branch `chat`)
    path("chat/<str:client_id>/", chat_views.chat_page, name="twin-chat"),
    path("chat/<str:client_id>/say", chat_views.chat_say, name="twin-chat-say"),
    path("chat/<str:client_id>/back", chat_views.chat_back, name="twin-chat-back"),
    path("chat/<str:client_id>/corrections", chat_views.chat_correction, name="twin-chat-correction"),
    path("review/", chat_views.review_queue, name="twin-review"),
    path("review/answers/<int:pk>", chat_views.review_answer, name="twin-review-answer"),
    path("review/corrections/<int:pk>", chat_views.review_correction, name="twin-review-correction"),
]
