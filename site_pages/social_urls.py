from django.urls import path

from .social import google_callback, google_login, google_login_by_token

# Before allauth's own URLs: the same addresses and names, answering 404 until Google sign-in is
# set up, and the login page's form-action widened.
urlpatterns = [
    path("google/login/", google_login, name="google_login"),
    path("google/login/callback/", google_callback, name="google_callback"),
    path("google/login/token/", google_login_by_token, name="google_login_by_token"),
]
