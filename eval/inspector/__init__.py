"""`swe-search inspect`: a local web page of every decision a run made (candidates, Q, the pick).

- `loaders`  reads a run folder's JSON files on demand (never writes, never imports the runner);
- `app`      renders the pages (Jinja2, autoescape on) for a path, the same for serving and export;
- `server`   serves them on 127.0.0.1 (the standard library's ThreadingHTTPServer);
- `export`   writes every page into a folder that opens from file:// with no network.
"""
