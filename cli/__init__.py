"""The ``kb`` command line; it drives both the knowledge base (``kb/``) and the server."""
