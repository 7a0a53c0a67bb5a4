"""Length distributions, synthetic text and shared prefixes, and the words → tokens calibration
(harness.workload.lengths, .text, .calibration).

Sampled means are compared with the exact mean of the distribution as the harness defines it:
a continuous draw rounded half up to an integer and kept only when it rounds into [min, max].
That reference is summed here from the distribution's own CDF, independent of how the
harness draws. Every sample uses a fixed seed, so these checks are deterministic.
"""

from __future__ import annotations

import random
import re
import statistics
from collections.abc import Callable
from math import erf, log, sqrt

import pytest

from harness.workload.calibration import (
    CALIBRATION_WORDS,
    Calibration,
    calibrate,
    calibration_prompts,
)
from harness.workload.lengths import LengthDist, parse_length
from harness.workload.text import (
    SYNTHETIC_WORDS,
    prefix_texts,
    synthetic_text,
    words_for_tokens,
)

N = 20_000
SEED = 7


# ---------------------------------------------------------------- references


def normal_cdf(mean: float, sd: float) -> Callable[[float], float]:
    return lambda x: 0.5 * (1 + erf((x - mean) / (sd * sqrt(2))))


def lognormal_cdf(mean: float, sd: float) -> Callable[[float], float]:
    sigma2 = log(1 + sd * sd / (mean * mean))
    mu, sigma = log(mean) - sigma2 / 2, sqrt(sigma2)
    return lambda x: 0.5 * (1 + erf((log(x) - mu) / (sigma * sqrt(2)))) if x > 0 else 0.0


def rounded_truncated_mean(cdf: Callable[[float], float], low: int, high: int) -> float:
    """E[k] where k = round(X) is kept only inside [low, high]."""
    weights = [(k, cdf(k + 0.5) - cdf(k - 0.5)) for k in range(low, high + 1)]
    mass = sum(w for _, w in weights)
    return sum(k * w for k, w in weights) / mass


def assert_mean_near(values: list[int], expected: float, share: float = 0.02) -> None:
    mean = statistics.fmean(values)
    assert abs(mean - expected) <= share * expected, (mean, expected)


# ---------------------------------------------------------------- the distributions


def test_fixed_is_always_its_value() -> None:
    assert LengthDist.fixed(256).samples(N, SEED) == [256] * N


def test_uniform_covers_both_ends_with_the_middle_as_mean() -> None:
    values = LengthDist("uniform", min=100, max=900).samples(N, SEED)
    assert min(values) == 100
    assert max(values) == 900
    assert_mean_near(values, 500.0)


def test_normal_with_wide_bounds_has_its_mean_and_stddev() -> None:
    values = LengthDist("normal", mean=512, stddev=128, min=1).samples(N, SEED)
    assert min(values) >= 1
    assert_mean_near(values, 512.0)
    assert abs(statistics.stdev(values) - 128) <= 0.03 * 128


def test_normal_truncated_asymmetrically_has_the_truncated_mean() -> None:
    # 64 is 3.5 sd below the mean, 600 only 0.7 sd above: the mean moves down to about 459
    values = LengthDist("normal", mean=512, stddev=128, min=64, max=600).samples(N, SEED)
    assert all(64 <= v <= 600 for v in values)
    assert max(values) == 600
    expected = rounded_truncated_mean(normal_cdf(512, 128), 64, 600)
    assert 458 < expected < 460
    assert_mean_near(values, expected)


def test_normal_in_a_far_tail_is_drawn_without_looping() -> None:
    # the bounds hold about 3e-5 of the mass: rejection would need ~30,000 draws per length
    dist = LengthDist("normal", mean=100, stddev=10, min=140, max=400)
    values = dist.samples(N, SEED)
    assert all(140 <= v <= 400 for v in values)
    assert_mean_near(values, rounded_truncated_mean(normal_cdf(100, 10), 140, 400))


def test_lognormal_mean_and_stddev_are_its_own_not_its_logs() -> None:
    values = LengthDist("lognormal", mean=300, stddev=200, min=1).samples(N, SEED)
    assert_mean_near(values, 300.0)
    assert abs(statistics.stdev(values) - 200) <= 0.05 * 200


def test_lognormal_truncated_has_the_truncated_mean() -> None:
    values = LengthDist("lognormal", mean=300, stddev=200, min=1, max=500).samples(N, SEED)
    assert all(1 <= v <= 500 for v in values)
    expected = rounded_truncated_mean(lognormal_cdf(300, 200), 1, 500)
    assert expected < 270  # the upper bound cuts the long right tail
    assert_mean_near(values, expected)


@pytest.mark.parametrize(
    "dist",
    [
        LengthDist("uniform", min=1, max=1000),
        LengthDist("normal", mean=512, stddev=128, min=64, max=1024),
        LengthDist("lognormal", mean=300, stddev=200, min=1, max=2000),
    ],
    ids=["uniform", "normal", "lognormal"],
)
def test_samples_are_the_same_for_the_same_seed_only(dist: LengthDist) -> None:
    assert dist.samples(200, 3) == dist.samples(200, 3)
    assert dist.samples(200, 3) != dist.samples(200, 4)


def test_sample_draws_from_the_rng_it_is_given() -> None:
    dist = LengthDist("normal", mean=512, stddev=128)
    a, b = random.Random(11), random.Random(11)
    assert [dist.sample(a) for _ in range(50)] == [dist.sample(b) for _ in range(50)]
    assert [dist.sample(random.Random(11)) for _ in range(3)] == [dist.samples(1, 11)[0]] * 3


@pytest.mark.parametrize(
    ("dist", "text"),
    [
        (LengthDist.fixed(256), "fixed 256"),
        (LengthDist("uniform", min=100, max=900), "uniform 100–900"),
        (
            LengthDist("normal", mean=512, stddev=128, min=64, max=1024),
            "normal(mean 512, sd 128, 64–1024)",
        ),
        (LengthDist("normal", mean=512, stddev=128), "normal(mean 512, sd 128, ≥ 1)"),
        (
            LengthDist("lognormal", mean=300.5, stddev=200, min=1, max=2000),
            "lognormal(mean 300.5, sd 200, 1–2000)",
        ),
    ],
)
def test_describe_says_the_distribution_in_words(dist: LengthDist, text: str) -> None:
    assert dist.describe() == text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"dist": "beta"},
            "unknown length distribution 'beta' (one of fixed, uniform, normal, lognormal)",
        ),
        ({"dist": "fixed", "mean": 0}, "fixed: expected a whole number of tokens ≥ 1, got 0"),
        ({"dist": "fixed", "mean": 2.5}, "fixed: expected a whole number of tokens ≥ 1, got 2.5"),
        ({"dist": "fixed", "mean": 300, "max": 200}, "fixed: 300 is outside its bounds 1–200"),
        ({"dist": "uniform", "min": 5}, "uniform: needs both min and max"),
        ({"dist": "uniform", "min": 9, "max": 3}, "uniform: max 3 is below min 9"),
        (
            {"dist": "uniform", "mean": 5, "max": 9},
            "uniform: takes min and max only, no mean or stddev",
        ),
        ({"dist": "normal", "mean": 5}, "normal: needs a mean and a stddev"),
        (
            {"dist": "normal", "mean": 5, "stddev": 0},
            "normal: stddev must be > 0, got 0 (for one length use fixed)",
        ),
        (
            {"dist": "normal", "mean": 5, "stddev": 1, "min": 0},
            "normal: min must be at least 1 token, got 0",
        ),
        ({"dist": "lognormal", "mean": -1, "stddev": 2}, "lognormal: mean must be > 0, got -1"),
        (
            {"dist": "normal", "mean": 100, "stddev": 10, "min": 160, "max": 400},
            "normal(mean 100, sd 10): the bounds 160–400 hold 1e-09 of its mass (less than 1e-06); "
            "widen them or move the mean",
        ),
        (
            {"dist": "lognormal", "mean": 100, "stddev": 10, "min": 1, "max": 40},
            "lognormal(mean 100, sd 10): the bounds 1–40 hold 1e-19 of its mass (less than 1e-06); "
            "widen them or move the mean",
        ),
    ],
)
def test_bad_parameters_are_refused_with_one_line(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        LengthDist(**kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the command line's form


@pytest.mark.parametrize(
    ("text", "dist"),
    [
        ("256", LengthDist.fixed(256)),
        (" fixed:64 ", LengthDist.fixed(64)),
        ("uniform:100-900", LengthDist("uniform", min=100, max=900)),
        ("normal:512,128", LengthDist("normal", mean=512, stddev=128)),
        ("normal:512,128,64-1024", LengthDist("normal", mean=512, stddev=128, min=64, max=1024)),
        (
            "lognormal:300,200,1-2000",
            LengthDist("lognormal", mean=300, stddev=200, min=1, max=2000),
        ),
        ("Normal: 512.5, 12.5, 1 - 2000", LengthDist("normal", mean=512.5, stddev=12.5, max=2000)),
    ],
)
def test_parse_length_reads_each_form(text: str, dist: LengthDist) -> None:
    assert parse_length(text) == dist


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "many",
            "length 'many': 'many' is not a whole number (a length in tokens; expected N, "
            "uniform:MIN-MAX, normal:MEAN,SD[,MIN-MAX] or lognormal:MEAN,SD[,MIN-MAX])",
        ),
        ("0", "length '0': fixed: expected a whole number of tokens ≥ 1, got 0"),
        (
            "gamma:2,3",
            "length 'gamma:2,3': unknown distribution 'gamma' (expected N, "
            "uniform:MIN-MAX, normal:MEAN,SD[,MIN-MAX] or lognormal:MEAN,SD[,MIN-MAX])",
        ),
        ("uniform:900", "length 'uniform:900': '900' is not a range MIN-MAX"),
        (
            "uniform:1-x",
            "length 'uniform:1-x': 'x' is not a whole number (the maximum; expected N, "
            "uniform:MIN-MAX, normal:MEAN,SD[,MIN-MAX] or lognormal:MEAN,SD[,MIN-MAX])",
        ),
        ("uniform:1-9,3", "length 'uniform:1-9,3': expected uniform:MIN-MAX"),
        ("normal:512", "length 'normal:512': expected normal:MEAN,SD or normal:MEAN,SD,MIN-MAX"),
        ("normal:abc,128", "length 'normal:abc,128': 'abc' is not a number (the mean)"),
        (
            "normal:512,inf",
            "length 'normal:512,inf': 'inf' is not a finite number (the standard deviation)",
        ),
        (
            "normal:512,-1",
            "length 'normal:512,-1': normal: stddev must be > 0, got -1 (for one length use fixed)",
        ),
        ("uniform:9-3", "length 'uniform:9-3': uniform: max 3 is below min 9"),
    ],
)
def test_parse_length_names_the_bad_part(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_length(text)


# ---------------------------------------------------------------- text of a given length


@pytest.mark.parametrize(
    "calibration",
    [Calibration(), Calibration(1.24, 9.0, "server"), Calibration(1.9, 31.5, "server")],
)
def test_words_for_tokens_inverts_tokens_for_within_one_word(calibration: Calibration) -> None:
    for words in (1, 2, 7, 100, 333, 4096):
        tokens = round(calibration.tokens_for(words))
        assert abs(words_for_tokens(tokens, calibration) - words) <= 1, (words, tokens)


def test_words_for_tokens_is_at_least_one_word() -> None:
    assert words_for_tokens(5, Calibration(1.0, 9.0, "server")) == 1


def test_words_for_tokens_takes_the_template_off_first() -> None:
    assert words_for_tokens(509, Calibration(1.25, 9.0, "server")) == 400


def test_synthetic_text_has_the_words_asked_from_the_vocabulary() -> None:
    words = synthetic_text(250, random.Random(1)).split(" ")
    assert len(words) == 250
    assert set(words) <= set(SYNTHETIC_WORDS)
    assert synthetic_text(250, random.Random(1)) == " ".join(words)


def test_synthetic_text_refuses_no_words() -> None:
    with pytest.raises(ValueError, match=r"^synthetic text needs at least 1 word, got 0$"):
        synthetic_text(0, random.Random(1))


def test_the_vocabulary_is_short_common_words() -> None:
    assert len(SYNTHETIC_WORDS) == 98
    assert all(word.isalpha() and len(word) <= 6 for word in SYNTHETIC_WORDS)


def test_prefix_texts_are_distinct_from_their_first_words() -> None:
    texts = prefix_texts(200, 4, Calibration(), seed=1)
    assert [t.split(" ", 3)[:3] for t in texts] == [
        ["Reference", "document", f"{g}:"] for g in (1, 2, 3, 4)
    ]
    assert len(set(texts)) == 4


def test_prefix_texts_are_about_the_tokens_asked_with_no_template_taken_off() -> None:
    calibration = Calibration(1.25, 40.0, "server")
    for text in prefix_texts(1000, 3, calibration, seed=2):
        assert len(text.split(" ")) == 800  # 1000 tokens / 1.25, the header's 3 words included


def test_prefix_texts_are_the_same_for_the_same_seed_only() -> None:
    first = prefix_texts(300, 3, Calibration(), seed=5)
    assert prefix_texts(300, 3, Calibration(), seed=5) == first
    assert prefix_texts(300, 5, Calibration(), seed=5)[:3] == first
    assert prefix_texts(300, 3, Calibration(), seed=6) != first


@pytest.mark.parametrize(
    ("tokens", "groups", "message"),
    [
        (0, 2, "a shared prefix needs at least 1 token, got 0"),
        (10, 0, "expected at least 1 prefix group, got 0"),
    ],
)
def test_prefix_texts_refuse_nothing_to_make(tokens: int, groups: int, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        prefix_texts(tokens, groups, Calibration(), seed=1)


# ---------------------------------------------------------------- calibration


def test_calibrate_takes_the_line_through_the_two_probes() -> None:
    calibration = calibrate((8, 19), (400, 509))
    assert calibration == Calibration(tokens_per_word=1.25, overhead_tokens=9.0, source="server")
    assert calibration.tokens_for(100) == 134.0


def test_calibration_describes_where_it_came_from() -> None:
    assert calibrate((8, 19), (400, 505)).describe() == (
        "1.24 tokens per word + 9.08 tokens of template (from the server's usage)"
    )
    assert (
        Calibration().describe()
        == "1 token per word + 0 tokens of template (assumed, not measured)"
    )


@pytest.mark.parametrize(
    ("short", "long", "message"),
    [
        ((8, 20), (8, 30), "calibration: the probes must have 0 < short < long words, got 8 and 8"),
        (
            (8, 20),
            (400, 20),
            "calibration: the server counted 20 prompt tokens for 400 words and 20 "
            "for 8: the longer prompt must count more",
        ),
        (
            (8, 20),
            (400, 15),
            "calibration: the server counted 15 prompt tokens for 400 words and 20 "
            "for 8: the longer prompt must count more",
        ),
        (
            (8, 20),
            (400, 9000),
            "calibration: 22.9 tokens per word (from 20 and 9000 prompt tokens) "
            "is not a tokenizer counting words; the server's usage is wrong",
        ),
    ],
)
def test_calibrate_refuses_counts_that_make_no_sense(
    short: tuple[int, int], long: tuple[int, int], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        calibrate(short, long)


def test_calibration_prompts_have_the_probe_word_counts() -> None:
    short, long = calibration_prompts(seed=3)
    assert (len(short.split(" ")), len(long.split(" "))) == CALIBRATION_WORDS == (8, 400)
    assert calibration_prompts(seed=3) == (short, long)
    assert calibration_prompts(seed=4) != (short, long)
