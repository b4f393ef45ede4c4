"""Who may see the pages: signed-in users, or anyone when TUNEBOARD_PUBLIC_READ is on."""

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login


def page_access(view):
    """Pages need a signed-in user unless TUNEBOARD_PUBLIC_READ opens them to anyone."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if settings.TUNEBOARD_PUBLIC_READ or request.user.is_authenticated:
            return view(request, *args, **kwargs)
        return redirect_to_login(request.get_full_path())

    return wrapper
