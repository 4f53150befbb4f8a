from django.urls import path

from marketdata import views

urlpatterns = [path("plotly.js", views.plotly_js, name="plotly-js")]
