"""The server's own view of a run: its Prometheus metrics, scraped before, during and after.

`engines` names what each inference server publishes (vLLM, SGLang, TGI, llama.cpp, LiteLLM)
and recognises a server by its metric names; `snapshot` is one scrape as plain data; `view`
turns a run's scrapes into summary.json's ``server`` block (histogram deltas over the run's
window, counter deltas next to ours, gauges over time, the client-minus-server split and
whether the server saturated). These three are pure. `scrape` fetches and parses one
exposition with prometheus-client's text parser, in the load generator before and after the
load, and in a child process of its own during it (harness.server_watch), so parsing never
takes the load generator's time while requests are in flight.
"""
