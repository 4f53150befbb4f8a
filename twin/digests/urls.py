from django.urls import path

from twin.digests import views

urlpatterns = [
    path("", views.digest_list, name="digest-list"),
    path("<int:digest_id>/", views.digest_detail, name="digest-detail"),
    path("<int:digest_id>/email", views.digest_email, name="digest-email"),
    path("<int:digest_id>/retry", views.retry_view, name="digest-retry"),
    path("runs/<int:run_id>/", views.run_progress, name="digest-run"),
    path("approvals/<str:fingerprint>/approve", views.approve_view, name="digest-approve"),
    path("preferences/<str:client_id>", views.preference_view, name="digest-preference"),
]
