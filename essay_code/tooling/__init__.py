"""Orchestration: registry, config, cache, runner, results IO, provenance, history,
gather and scaffold. Outside every cache key: editing it never stales a result."""
