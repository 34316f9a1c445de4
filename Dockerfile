FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Collected with the production storage (hashed names + manifest); throwaway values for the build.
RUN DEBUG=false SECRET_KEY=build-only-not-secret-build-only-not-secret-build-only \
    ALLOWED_HOSTS=build FIELD_ENCRYPTION_KEY=0cTBgyJy0vdR6OfmBGm0dn4gUjJ0zbpHdsDvM_L6Ikk= \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 METRICS_ENABLED=false sh -c 'python manage.py collectstatic --noinput && python manage.py compilemessages' \
    && mkdir -p /tmp/metrics /app/var && chown nobody /tmp/metrics /app/var
USER nobody
EXPOSE 8000 9808
CMD ["gunicorn", "panel.wsgi", "--bind", "0.0.0.0:8000"]
