"""Batch vs streaming under the same load: the main job of locust-llm.

    locust -f locustfiles/batch_vs_stream.py --host http://127.0.0.1:8000/v1

Both user classes send the same prompts with the same settings and equal weights, so half the
users stream (`stream: true`, Server-Sent Events) and half wait for one JSON body
(`stream: false`). Locust's table shows one row per request (`stream e2e`, `stream ttft`,
`stream tpot`, `batch e2e`); the precise figures (TTFT, ITL, TPOT, E2E, first visible output)
come from the harness's own statistics: add `--llm-out llm-report` to write summary.json and
summary.md when the run ends.

The API key is read from $OPENAI_API_KEY (or the variable named by --llm-api-key-env); it is
never an option, so it never shows in the web UI. `locust-llm run --help` lists every --llm-…
option (`locust --help` cannot: Locust prints it before loading this file); `locust-llm run
-f THIS_FILE` takes them all too.
"""

from harness.users import BatchUser, StreamingUser

# To use your own prompts, subclass (only your classes then run; the bases are not):
#
#   class MyStreamingUser(StreamingUser):
#       prompts = ["Write a limerick about queues."]
#
#   class MyBatchUser(BatchUser):
#       prompts = MyStreamingUser.prompts

__all__ = ["BatchUser", "StreamingUser"]
