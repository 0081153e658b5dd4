"""``aekit serve``: a local web app over trained runs (the optional ``serve`` extra: Starlette and uvicorn).

Hand-written pages (``static/``: HTML, CSS and JavaScript, nothing fetched from elsewhere) call a small JSON API;
every answer comes from the applications (``aekit.apps``) and the runs' ``Run`` objects, opened once at start-up.
The server binds the loopback interface unless told otherwise, answers only requests addressed to it by name
(``security``), and never writes into a run folder.
"""
