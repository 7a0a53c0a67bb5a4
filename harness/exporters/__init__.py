"""Sinks that publish a run's statistics to other systems.

`prometheus_config` holds the Prometheus exporter's bucket layouts, options and validation;
`prometheus_collector` is the Prometheus view of the merged statistics (neither imports Locust);
`prometheus` plugs them into a Locust run (options, the /metrics server, distributed in-flight
counts, the final-scrape grace period). Importing this package imports none of them.
"""
