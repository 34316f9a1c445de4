from django.urls import path

from .social import google_login

# Before allauth's own URLs: the same address and name, with the page's form-action widened.
urlpatterns = [path("google/login/", google_login, name="google_login")]
