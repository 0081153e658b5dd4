"""Binary BCH codes (Bose, Ray-Chaudhuri, Hocquenghem 1960): the error-correcting code of aekit's pixel watermark.

A primitive narrow-sense BCH code of length n = 2^m - 1 holds k message bits and corrects any t bit errors. Encoding
is systematic (the codeword is the message followed by n - k parity bits: the remainder of message * x^(n-k) divided
by the generator polynomial, the least common multiple of the minimal polynomials of alpha^1 .. alpha^2t). Decoding
is bounded-distance: syndromes, Berlekamp-Massey for the error locator, Chien search for its roots; a word more than
t errors from every codeword is refused (None), never guessed.

Because decoding only accepts words within distance t of a codeword, and those spheres do not overlap, a uniformly
random n-bit word decodes with probability exactly ``2^k * V(n, t) / 2^n`` (``accept_probability``), V(n, t) the
number of words within distance t of a point; the watermark's false-positive bound is built on this.
"""

from __future__ import annotations

from functools import cached_property
from math import comb

import numpy as np

PRIMITIVE = {5: 0b100101, 6: 0b1000011, 7: 0b10001001, 8: 0b100011101}  # x^m + ... : a primitive polynomial per m


def _poly_mul(a: int, b: int) -> int:
    """Product of two GF(2) polynomials held as ints (bit i is the coefficient of x^i)."""
    out = 0
    while b:
        if b & 1:
            out ^= a
        a, b = a << 1, b >> 1
    return out


def _poly_mod(a: int, m: int) -> int:
    """a mod m over GF(2)."""
    dm = m.bit_length()
    while a.bit_length() >= dm:
        a ^= m << (a.bit_length() - dm)
    return a


class BCH:
    """The BCH code of length 2^m - 1 that corrects t errors; ``k`` message bits. Bits are lists of 0/1 ints."""

    def __init__(self, m: int, t: int):
        if m not in PRIMITIVE:
            raise ValueError(f"m must be one of {sorted(PRIMITIVE)}")
        self.m, self.t, self.n = m, t, (1 << m) - 1
        self.exp, self.log = self._field(PRIMITIVE[m])
        self.k = self.n - (self.generator.bit_length() - 1)
        if self.k <= 0:
            raise ValueError(f"a BCH code of length {self.n} cannot correct {t} errors")

    def _field(self, prim: int) -> tuple[list[int], list[int]]:
        """Antilog and log tables of GF(2^m): exp[i] = alpha^i (doubled for index sums), log[alpha^i] = i."""
        exp, log, x = [0] * (2 * self.n), [0] * (self.n + 1), 1
        for i in range(self.n):
            exp[i] = exp[i + self.n] = x
            log[x] = i
            x <<= 1
            if x >> self.m:
                x ^= prim
        return exp, log

    def _minimal(self, i: int) -> int:
        """The minimal polynomial over GF(2) of alpha^i: the product of (x - alpha^j) over i's cyclotomic coset."""
        coset, j = [], i % self.n
        while j not in coset:
            coset.append(j)
            j = 2 * j % self.n
        poly = [1]  # coefficients in GF(2^m), lowest first
        for j in coset:
            root = self.exp[j]
            poly = [(poly[d - 1] if d else 0) ^ (self._mul(poly[d], root) if d < len(poly) else 0)
                    for d in range(len(poly) + 1)]
        return sum(c << d for d, c in enumerate(poly))  # every coefficient is 0 or 1

    def _mul(self, a: int, b: int) -> int:
        return 0 if a == 0 or b == 0 else self.exp[self.log[a] + self.log[b]]

    @cached_property
    def generator(self) -> int:
        g, seen = 1, set()
        for i in range(1, 2 * self.t + 1):
            mp = self._minimal(i)
            if mp not in seen:
                seen.add(mp)
                g = _poly_mul(g, mp)
        return g

    def encode(self, message: list[int]) -> list[int]:
        """The n-bit codeword of a k-bit message: the message, then its parity bits."""
        if len(message) != self.k:
            raise ValueError(f"a message has {self.k} bits, not {len(message)}")
        msg = sum(b << (self.n - 1 - i) for i, b in enumerate(message))  # bit i of the list: x^(n-1-i)
        word = msg | _poly_mod(msg, self.generator)
        return [(word >> (self.n - 1 - i)) & 1 for i in range(self.n)]

    def decode(self, word: list[int]) -> list[int] | None:
        """The message of the codeword within t bit errors of ``word``, or None when there is none."""
        if len(word) != self.n:
            raise ValueError(f"a word has {self.n} bits, not {len(word)}")
        positions = [self.n - 1 - i for i, b in enumerate(word) if b]  # the exponents of x present
        syndromes = [0] * (2 * self.t)
        for s in range(2 * self.t):
            for p in positions:
                syndromes[s] ^= self.exp[(p * (s + 1)) % self.n]
        if any(syndromes):
            errors = self._locate(syndromes)
            if errors is None:
                return None
            word = list(word)
            for p in errors:
                word[self.n - 1 - p] ^= 1
        return word[: self.k]

    def _locate(self, syndromes: list[int]) -> list[int] | None:
        """Error positions (exponents) from the syndromes: Berlekamp-Massey, then a Chien search; None when the
        locator's roots are not all distinct powers of alpha (more than t errors)."""
        c, b, length, shift, bd = [1], [1], 0, 1, 1
        for i, s in enumerate(syndromes):
            d = s
            for j in range(1, length + 1):
                if j < len(c):
                    d ^= self._mul(c[j], syndromes[i - j])
            if d == 0:
                shift += 1
                continue
            coef = self._mul(d, self.exp[(self.n - self.log[bd]) % self.n])
            new = c + [0] * max(0, len(b) + shift - len(c))
            for j, bj in enumerate(b):
                new[j + shift] ^= self._mul(coef, bj)
            if 2 * length <= i:
                b, length, bd, shift = c, i + 1 - length, d, 1
            else:
                shift += 1
            c = new
        c = c[: length + 1]
        if length > self.t or len(c) != length + 1 or c[length] == 0:
            return None
        roots = np.flatnonzero(self._chien(c) == 0)
        return [int(p) for p in roots] if len(roots) == length else None

    def _chien(self, poly: list[int]) -> np.ndarray:
        """The locator's value at alpha^-p for every position p (a Chien search, all positions at once)."""
        exp, p, out = np.array(self.exp), np.arange(self.n), np.zeros(self.n, np.int64)
        for j, coef in enumerate(poly):
            if coef:
                out ^= exp[(self.log[coef] - j * p) % self.n]
        return out

    def accept_probability(self) -> float:
        """The probability that a uniformly random n-bit word decodes: 2^k V(n, t) / 2^n."""
        return sum(comb(self.n, i) for i in range(self.t + 1)) * 2.0 ** (self.k - self.n)
