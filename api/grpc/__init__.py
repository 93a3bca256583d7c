"""Qdrant 1.20's gRPC API (port 6334): the `Qdrant`, `Collections`, `Points` and `Snapshots`
services over the REST routes (gateway.py dispatches, convert.py translates with qdrant-client's
protocol code, points.py and services.py say which route answers which RPC)."""
