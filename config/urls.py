from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from advisor import views as advisor_views
from twin import urls as twin_urls

urlpatterns = [
    path("healthz", advisor_views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include(twin_urls.api_urlpatterns)),
    path("", include(twin_urls.urlpatterns)),
    path("digests/", include("twin.digests.urls")),
    path("", include("advisor.urls")),
]
