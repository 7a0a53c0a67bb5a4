"""Length distributions, in tokens: how long the prompts and the answers a run asks for are.

`LengthDist` is one distribution (`fixed`, `uniform`, `normal` or `lognormal`) with integer
bounds [min, max]; `sample()` draws one length, `samples()` a reproducible list of them, and
`describe()` says it in words. `parse_length()` reads the command line's form (``256``,
``uniform:100-900``, ``normal:512,128,64-1024``, ``lognormal:300,200,1-2000``).

Semantics:

- `fixed`: always `mean` (an integer).
- `uniform`: integers in [min, max], both ends included, each equally likely (`max` is
  required; `mean` and `stddev` are not used).
- `normal`: a normal distribution of `mean` and `stddev`, rounded half up to an integer and
  truncated to [min, max] (max None: unbounded above).
- `lognormal`: a lognormal whose own mean and standard deviation are `mean` and `stddev`
  (not those of its log): sigma² = ln(1 + stddev²/mean²), mu = ln(mean) − sigma²/2; rounded
  and truncated the same way.

Truncation keeps the shape of the distribution inside the bounds and drops what falls
outside, so it moves the mean when the bounds are not symmetric about it: normal(512, 128)
cut to 64–600 averages about 459, not 512. A lognormal is skewed, so any upper bound lowers
its mean. The truncated distribution is exactly the one rejection of out-of-bounds values
would give, but it is drawn by inverting the cumulative distribution inside the bounds: one
random number per length, whatever share of the mass the bounds hold. Bounds that hold less
than `MIN_MASS` of it are refused when the distribution is made: they are a mistake.

Pure core: standard library only; randomness comes from the `random.Random` passed in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from math import erfc, exp, floor, inf, isfinite, log, sqrt
from statistics import NormalDist

#: the distributions, as `LengthDist.dist` and the command line name them
DISTRIBUTIONS = ("fixed", "uniform", "normal", "lognormal")
#: the smallest share of a normal or lognormal's mass its bounds may hold
MIN_MASS = 1e-6
#: what `parse_length` reads, for its errors
FORMS = "N, uniform:MIN-MAX, normal:MEAN,SD[,MIN-MAX] or lognormal:MEAN,SD[,MIN-MAX]"

_STANDARD = NormalDist()
_SQRT2 = sqrt(2.0)


@dataclass(frozen=True, slots=True)
class LengthDist:
    """A distribution of lengths in tokens: integers in [min, max] (max None: unbounded).

    `mean` is the value of `fixed`, and the mean of `normal` and `lognormal` before
    truncation (`uniform` takes only `min` and `max`); `stddev` is the standard deviation of
    `normal` and `lognormal`. Made with bad parameters, it raises `ValueError` with one line.
    """

    dist: str
    mean: float | None = None
    stddev: float | None = None
    min: int = 1
    max: int | None = None

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def fixed(cls, n: int) -> LengthDist:
        """Always `n` tokens."""
        return cls("fixed", mean=n, min=n, max=n)

    def sample(self, rng: random.Random) -> int:
        """One length, an int in [min, max], drawn with `rng`."""
        dist = self.dist
        if dist == "fixed":
            return int(self._mean)
        if dist == "uniform":
            return rng.randint(self.min, self._max)
        z = _truncated_standard_normal(rng, *self._z_bounds())
        if dist == "normal":
            value = self._mean + self._stddev * z
        else:
            mu, sigma = self._log_parameters()
            value = exp(mu + sigma * z)
        rounded = floor(value + 0.5)
        # inside [min - 0.5, max + 0.5) it rounds into the bounds; the clamp only catches
        # floating-point edges of the inverse CDF far in a tail
        high = self.max if self.max is not None else rounded
        return int(min(max(rounded, self.min), high))

    def samples(self, n: int, seed: int) -> list[int]:
        """`n` lengths, the same for the same seed."""
        rng = random.Random(seed)
        return [self.sample(rng) for _ in range(n)]

    def describe(self) -> str:
        """In words: ``fixed 256``, ``uniform 100–900``, ``normal(mean 512, sd 128, 64–1024)``."""
        if self.dist == "fixed":
            return f"fixed {int(self._mean)}"
        if self.dist == "uniform":
            return f"uniform {self._bounds_text()}"
        return f"{self.dist}(mean {self._mean:g}, sd {self._stddev:g}, {self._bounds_text()})"

    # ------------------------------------------------------------------ internals

    def _bounds_text(self) -> str:
        return f"{self.min}–{self.max}" if self.max is not None else f"≥ {self.min}"

    @property
    def _mean(self) -> float:
        assert self.mean is not None  # checked at construction
        return self.mean

    @property
    def _stddev(self) -> float:
        assert self.stddev is not None  # checked at construction
        return self.stddev

    @property
    def _max(self) -> int:
        assert self.max is not None  # checked at construction
        return self.max

    def _log_parameters(self) -> tuple[float, float]:
        """(mu, sigma) of the normal whose exponential is this lognormal."""
        mean, sd = self._mean, self._stddev
        sigma2 = log(1.0 + sd * sd / (mean * mean))
        return log(mean) - sigma2 / 2.0, sqrt(sigma2)

    def _z_bounds(self) -> tuple[float, float]:
        """The standard-normal interval whose values round into [min, max]."""
        low = self.min - 0.5
        high = inf if self.max is None else self.max + 0.5
        if self.dist == "normal":
            mean, sd = self._mean, self._stddev
            return (low - mean) / sd, (high - mean) / sd
        mu, sigma = self._log_parameters()
        return (log(low) - mu) / sigma, (inf if high == inf else (log(high) - mu) / sigma)


def _check(d: LengthDist) -> None:
    """Raise ValueError (one line) unless `d`'s parameters make a distribution."""
    name = d.dist
    if name not in DISTRIBUTIONS:
        raise ValueError(
            f"unknown length distribution {name!r} (one of {', '.join(DISTRIBUTIONS)})"
        )
    if name == "fixed":
        mean = d.mean
        if mean is None or not isfinite(mean) or mean != int(mean) or mean < 1:
            raise ValueError(f"fixed: expected a whole number of tokens ≥ 1, got {mean!r}")
        if d.stddev is not None:
            raise ValueError("fixed: takes no stddev")
    if d.min < 1:
        raise ValueError(f"{name}: min must be at least 1 token, got {d.min}")
    if d.max is not None and d.max < d.min:
        raise ValueError(f"{name}: max {d.max} is below min {d.min}")
    if name == "fixed":
        if not (d.min <= d._mean and (d.max is None or d._mean <= d.max)):
            raise ValueError(f"fixed: {d._mean:g} is outside its bounds {d._bounds_text()}")
        return
    if name == "uniform":
        if d.max is None:
            raise ValueError("uniform: needs both min and max")
        if d.mean is not None or d.stddev is not None:
            raise ValueError("uniform: takes min and max only, no mean or stddev")
        return
    if d.mean is None or d.stddev is None:
        raise ValueError(f"{name}: needs a mean and a stddev")
    if not (isfinite(d.mean) and isfinite(d.stddev)):
        raise ValueError(f"{name}: mean and stddev must be finite numbers")
    if d.stddev <= 0:
        raise ValueError(f"{name}: stddev must be > 0, got {d.stddev:g} (for one length use fixed)")
    if name == "lognormal" and d.mean <= 0:
        raise ValueError(f"lognormal: mean must be > 0, got {d.mean:g}")
    mass = _standard_mass(*d._z_bounds())
    if mass < MIN_MASS:
        raise ValueError(
            f"{name}(mean {d.mean:g}, sd {d.stddev:g}): the bounds {d._bounds_text()} hold "
            f"{mass:.1g} of its mass (less than {MIN_MASS:g}); widen them or move the mean"
        )


def _cdf(z: float) -> float:
    """Standard normal CDF, accurate in the lower tail (erfc, not 1 + erf)."""
    return 0.5 * erfc(-z / _SQRT2)


def _standard_mass(low: float, high: float) -> float:
    """P(low ≤ Z < high) for a standard normal Z, accurate in either tail."""
    if low > 0:  # both in the upper half: use the mirror image, where the CDF is accurate
        low, high = -high, -low
    return _cdf(high) - _cdf(low)


def _truncated_standard_normal(rng: random.Random, low: float, high: float) -> float:
    """A standard normal drawn within [low, high), by inverting its CDF there."""
    mirrored = low > 0  # sample the lower-tail mirror image, where the CDF keeps its digits
    if mirrored:
        low, high = -high, -low
    c_low, c_high = _cdf(low), _cdf(high)
    u = c_low + rng.random() * (c_high - c_low)
    u = min(max(u, 5e-324), 1.0 - 2.0**-53)  # inv_cdf needs 0 < u < 1
    z = _STANDARD.inv_cdf(u)
    return -z if mirrored else z


def parse_length(text: str) -> LengthDist:
    """A length distribution from the command line's form.

    ``256`` (fixed), ``uniform:100-900``, ``normal:512,128``, ``normal:512,128,64-1024``,
    ``lognormal:300,200,1-2000`` (also ``fixed:256``). Raises ValueError with one line
    naming the part that is wrong.
    """
    spec = text.strip()
    name, colon, rest = spec.partition(":")
    name = name.strip().lower()
    parts = [part.strip() for part in rest.split(",")]
    try:
        if not colon:
            return LengthDist.fixed(_whole(spec, spec, "a length in tokens"))
        if name not in DISTRIBUTIONS:
            raise ValueError(f"length {spec!r}: unknown distribution {name!r} (expected {FORMS})")
        if name == "fixed":
            if len(parts) != 1:
                raise ValueError(f"length {spec!r}: expected fixed:N")
            return LengthDist.fixed(_whole(spec, parts[0], "a length in tokens"))
        if name == "uniform":
            if len(parts) != 1:
                raise ValueError(f"length {spec!r}: expected uniform:MIN-MAX")
            low, high = _bounds(spec, parts[0])
            return LengthDist("uniform", min=low, max=high)
        if len(parts) not in (2, 3):
            raise ValueError(f"length {spec!r}: expected {name}:MEAN,SD or {name}:MEAN,SD,MIN-MAX")
        mean = _number(spec, parts[0], "the mean")
        stddev = _number(spec, parts[1], "the standard deviation")
        if len(parts) == 3:
            low, high = _bounds(spec, parts[2])
            return LengthDist(name, mean=mean, stddev=stddev, min=low, max=high)
        return LengthDist(name, mean=mean, stddev=stddev)
    except ValueError as exc:
        message = str(exc)
        raise ValueError(
            message if message.startswith("length ") else f"length {spec!r}: {message}"
        ) from None


def _whole(spec: str, part: str, what: str) -> int:
    try:
        return int(part)
    except ValueError:
        raise ValueError(
            f"length {spec!r}: {part!r} is not a whole number ({what}; expected {FORMS})"
        ) from None


def _number(spec: str, part: str, what: str) -> float:
    try:
        value = float(part)
    except ValueError:
        raise ValueError(f"length {spec!r}: {part!r} is not a number ({what})") from None
    if not isfinite(value):
        raise ValueError(f"length {spec!r}: {part!r} is not a finite number ({what})")
    return value


def _bounds(spec: str, part: str) -> tuple[int, int]:
    low, dash, high = part.partition("-")
    if not dash:
        raise ValueError(f"length {spec!r}: {part!r} is not a range MIN-MAX")
    return _whole(spec, low.strip(), "the minimum"), _whole(spec, high.strip(), "the maximum")
