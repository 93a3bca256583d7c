"""The Qdrant-compatible REST server over the embedded Client.

`api.app.create_app(client, settings)` builds the Litestar app; `api.app.serve(host, port, data,
api_key, read_only_api_key)` runs it with uvicorn; `python -m api --help` is the command line.
"""
