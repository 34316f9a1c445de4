from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .models import LedgerEntry


@login_required
def home(request):
    entries = LedgerEntry.objects.filter(user=request.user).order_by("-id")[:20]
    return render(request, "accounts/home.html", {"entries": entries})
