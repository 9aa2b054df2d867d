"""Serving Q(s, a): `critic serve` (server: HTTP, /v1/score and /health) over the batched scorer
(scoring: per-session KV caches, rows of several requests in one forward)."""
