"""Middleware of the project as a whole."""


class OneThreadPerRequest:
    """Runs a request's middleware and its view in one worker thread.

    Django adapts each middleware to the mode of the one below it: with the chain ending
    in middleware that can run either way, an ASGI server ran every `MiddlewareMixin`
    hook through its own hop between the event loop and a thread (about 15 hops, 4 ms,
    per request). Being sync-only and last, this makes the whole chain sync: one hop in,
    one for Django's own URL resolution, one to the view. It does nothing else.
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
