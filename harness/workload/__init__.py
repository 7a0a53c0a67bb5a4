"""The workload: what a run sends (prompts, datasets, conversations, lengths, traces).

Pure modules: `lengths` (length distributions), `text` (synthetic text and shared prefixes of
a given token length), `calibration` (words → tokens, from the server's own usage), `tally`
(the workload's figures: requested vs served lengths, per turn, per prefix use). Readers of
the user's files (`sharegpt`, `trace`, `jsonl`; `records` is what they share) and `source`
(what a user sends next) are configuration: pure too, with one-line errors naming file,
record and field.
"""
