"""make bench: the gateway and a plain proxy_pass relay on one canned
upstream, measured side by side (bench/bench.py runs it)."""
