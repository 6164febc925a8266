import os

from django.core.wsgi import get_wsgi_application

# Production settings unless told otherwise: they refuse to start without their secrets.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()
