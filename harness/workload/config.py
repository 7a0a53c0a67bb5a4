"""The scenario's `prompts:` section, read into a `Workload` (docs/workloads.md).

One source — `inline`, `file` (JSONL), `synthetic`, `sharegpt` or `trace` — and the keys
that shape it: `turns`, `think_time`, `filter`, `sample`, `seed`, `output_tokens`,
`force_output`, `shared_prefix`, `speed`. Every mistake is one line naming the key (and, for
a data file, the file, record and field). Pure: configuration layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.prompts import Prompt
from harness.strict_yaml import Node
from harness.workload.lengths import DISTRIBUTIONS, LengthDist
from harness.workload.sharegpt import LengthFilter
from harness.workload.source import FORCE_OUTPUT, SharedPrefix, Workload

SOURCES = ("inline", "file", "synthetic", "sharegpt", "trace")
SHAPING = (
    "turns", "think_time", "filter", "sample", "seed", "output_tokens", "force_output",
    "shared_prefix", "speed",
)  # fmt: skip
#: the keys each shaping key needs among the sources
_ONLY_WITH = {
    "turns": ("sharegpt",),
    "think_time": ("sharegpt",),
    "filter": ("file", "sharegpt"),
    "sample": ("file", "sharegpt"),
    "speed": ("trace",),
}
MAX_TOKENS = 10_000_000


@dataclass(frozen=True, slots=True)
class PromptsSection:
    """What `prompts:` decided: the workload, and the plain prompts when the source is a
    list of prompts with nothing else (Locust user classes' `prompts` then take them)."""

    workload: Workload
    prompts: tuple[Prompt, ...] | None
    described: str


def read_prompts_section(
    node: Node,
    *,
    resolve_path: Callable[[Node], Path],
    duration: Callable[[Node], float],
    inline: Callable[[Node], tuple[Prompt, ...]],
) -> PromptsSection:
    """Read a `prompts:` mapping (a list is `inline`: the caller reads it)."""
    keys = node.mapping((*SOURCES, *SHAPING), what="a list of prompts or a mapping")
    sources = [k for k in SOURCES if k in keys]
    if len(sources) != 1:
        raise node.error(
            f"expected exactly one of {', '.join(SOURCES[:-1])} or {SOURCES[-1]}, "
            + (f"got {', '.join(sources)}" if sources else "got none")
        )
    source = sources[0]
    for key, needs in _ONLY_WITH.items():
        if key in keys and source not in needs:
            raise keys[key].error(f"{key} applies to {' or '.join(needs)} only, not {source}")
    value = keys[source]
    seed = keys["seed"].integer() if "seed" in keys else 0
    output = length(keys["output_tokens"]) if "output_tokens" in keys else None
    force = keys["force_output"].choice(FORCE_OUTPUT) if "force_output" in keys else "none"
    prefix = shared_prefix(keys["shared_prefix"], seed) if "shared_prefix" in keys else None
    sample = keys["sample"].integer(minimum=1, maximum=10_000_000) if "sample" in keys else None
    input_filter = output_filter = None
    if "filter" in keys:
        input_filter, output_filter = filters(keys["filter"])
    plain: tuple[Prompt, ...] | None = None
    extras = ""
    if output is not None:
        extras += f", output {output.describe()} tokens"
    if prefix is not None:
        extras += f", shared prefix {prefix.tokens} tokens × {prefix.groups} groups"
    common = {
        "output_tokens": output,
        "force_output": force,
        "shared_prefix": prefix,
        "seed": seed,
    }
    if source == "inline":
        prompts = inline(value)
        workload = Workload(prompts=prompts, **common)  # type: ignore[arg-type]
        described = f"inline ({len(prompts)})"
        plain = prompts
    elif source == "file":
        from harness.workload.jsonl import read_jsonl_dataset

        file = existing_file(value, resolve_path)
        read = read_jsonl_dataset(
            file,
            input_tokens=input_filter,
            output_tokens=output_filter,
            sample=sample,
            seed=seed,
        )
        workload = Workload(
            prompts=read.prompts,
            prompt_output_tokens=read.output_tokens,
            **common,  # type: ignore[arg-type]
        )
        described = read.describe()
        if not any(n is not None for n in read.output_tokens):
            plain = read.prompts
    elif source == "synthetic":
        workload, described = synthetic(value, common, seed)
    elif source == "sharegpt":
        from harness.workload.sharegpt import read_sharegpt

        file = existing_file(value, resolve_path)
        turns = keys["turns"].choice(("first", "all")) if "turns" in keys else "first"
        think_s = duration(keys["think_time"]) if "think_time" in keys else 0.0
        if think_s and turns == "first":
            raise keys["think_time"].error("think_time applies to turns: all only")
        dataset = read_sharegpt(
            file,
            turns=turns,
            input_tokens=input_filter,
            output_tokens=output_filter,
            sample=sample,
            seed=seed,
        )
        described = dataset.describe() + f", turns: {turns}"
        if think_s:
            described += f", think time {think_s:g}s"
        if turns == "all":
            workload = Workload(
                conversations=dataset.conversations,
                think_time_s=think_s,
                **common,  # type: ignore[arg-type]
            )
        else:
            from harness.workload.sharegpt import estimate_tokens

            prompts = tuple(_first_turn(c.system, c.human[0]) for c in dataset.conversations)
            outputs = tuple(
                estimate_tokens(c.reference[0]) if c.reference[0] else None
                for c in dataset.conversations
            )
            workload = Workload(
                prompts=prompts,
                prompt_output_tokens=outputs,
                **common,  # type: ignore[arg-type]
            )
    else:
        from harness.workload.trace import read_trace

        if prefix is not None:
            raise keys["shared_prefix"].error(
                "a trace shares its prompts' blocks through its hash_ids; shared_prefix does "
                "not apply"
            )
        file = existing_file(value, resolve_path)
        speed = keys["speed"].number(above=0.0, maximum=1000.0) if "speed" in keys else 1.0
        trace = read_trace(file)
        workload = Workload(trace=trace, trace_speed=speed, **common)  # type: ignore[arg-type]
        described = trace.describe(speed)
    described += extras
    if force != "none":
        described += f", force_output {force}"
    return PromptsSection(
        replace(workload, description=described),
        plain if output is None and prefix is None else None,
        described,
    )


def _first_turn(system: str | None, human: str) -> Prompt:
    if system is None:
        return human
    return ({"role": "system", "content": system}, {"role": "user", "content": human})


def existing_file(node: Node, resolve_path: Callable[[Node], Path]) -> Path:
    file = resolve_path(node)
    if file.is_dir():
        raise node.error(f"{file} is a directory, expected a file")
    if not file.exists():
        raise node.error(f"no such file: {file}")
    return file


def synthetic(node: Node, common: dict[str, Any], seed: int) -> tuple[Workload, str]:
    keys = node.mapping(("input_tokens", "output_tokens", "count", "seed"))
    if "input_tokens" not in keys:
        raise node.error("missing key 'input_tokens' (the prompt length in tokens)")
    input_tokens = length(keys["input_tokens"])
    if "seed" in keys:
        seed = keys["seed"].integer()
    output = common["output_tokens"]
    if "output_tokens" in keys:
        if output is not None:
            raise keys["output_tokens"].error(
                "output_tokens is given twice (here and in prompts); keep one"
            )
        output = length(keys["output_tokens"])
    count = keys["count"].integer(minimum=1, maximum=10_000_000) if "count" in keys else None
    workload = Workload(
        input_tokens=input_tokens,
        pool=count,
        **{**common, "output_tokens": output, "seed": seed},
    )
    described = f"synthetic (input {input_tokens.describe()} tokens"
    if output is not None and "output_tokens" in keys:
        assert isinstance(output, LengthDist)
        described += f", output {output.describe()} tokens"
    if count is not None:
        described += f", {count} distinct"
    return workload, described + f", seed {seed})"


def length(node: Node) -> LengthDist:
    """A length in tokens: an integer (fixed) or {dist, mean, stddev, min, max}."""
    if node.kind == "integer":
        return LengthDist.fixed(node.integer(minimum=1, maximum=MAX_TOKENS))
    keys = node.mapping(
        ("dist", "mean", "stddev", "min", "max"),
        what="a length in tokens: an integer or {dist, mean, stddev, min, max}",
    )
    if "dist" not in keys:
        raise node.error(f"missing key 'dist' (one of {', '.join(DISTRIBUTIONS)})")
    dist = keys["dist"].choice(DISTRIBUTIONS)
    mean = keys["mean"].number(above=0.0, maximum=MAX_TOKENS) if "mean" in keys else None
    stddev = keys["stddev"].number(minimum=0.0, maximum=MAX_TOKENS) if "stddev" in keys else None
    low = keys["min"].integer(minimum=1, maximum=MAX_TOKENS) if "min" in keys else None
    high = keys["max"].integer(minimum=1, maximum=MAX_TOKENS) if "max" in keys else None
    needed = {
        "fixed": ("mean",),
        "uniform": ("min", "max"),
        "normal": ("mean", "stddev"),
        "lognormal": ("mean", "stddev"),
    }[dist]
    for key in needed:
        if key not in keys:
            raise node.error(f"missing key {key!r} (a {dist} length needs {', '.join(needed)})")
    try:
        return LengthDist(
            dist=dist, mean=mean, stddev=stddev, min=low if low is not None else 1, max=high
        )
    except ValueError as exc:
        raise node.error(str(exc)) from None


def filters(node: Node) -> tuple[LengthFilter | None, LengthFilter | None]:
    keys = node.mapping(("input_tokens", "output_tokens"))
    out: list[LengthFilter | None] = []
    for name in ("input_tokens", "output_tokens"):
        if name not in keys:
            out.append(None)
            continue
        bounds = keys[name].mapping(("min", "max"), what="a mapping {min, max} in tokens")
        low = bounds["min"].integer(minimum=0, maximum=MAX_TOKENS) if "min" in bounds else None
        high = bounds["max"].integer(minimum=1, maximum=MAX_TOKENS) if "max" in bounds else None
        if low is not None and high is not None and low > high:
            raise keys[name].error(f"min ({low}) is above max ({high})")
        out.append(LengthFilter(min=low, max=high))
    return out[0], out[1]


def shared_prefix(node: Node, seed: int) -> SharedPrefix:
    keys = node.mapping(("tokens", "groups"), what="a mapping {tokens, groups}")
    if "tokens" not in keys:
        raise node.error("missing key 'tokens' (the prefix length in tokens)")
    tokens = keys["tokens"].integer(minimum=1, maximum=MAX_TOKENS)
    groups = keys["groups"].integer(minimum=1, maximum=100_000) if "groups" in keys else 1
    return SharedPrefix(tokens=tokens, groups=groups, seed=seed)
