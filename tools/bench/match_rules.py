#!/usr/bin/env python3
"""Rule sets for tools/bench/match.sh, deterministic (seeded).

  match_rules.py literals N   N literal rules: 8-16 random lowercase letters and digits
  match_rules.py regex N      N regexes from six shapes (bounded and unbounded
                              repeats, classes, alternations, case-insensitive,
                              a bounded .{0,32} gap)

Every set also holds the bench capture's marker (pktgen/scenarios/bench-match.ini),
so that matches happen.
"""
import random
import sys

MARKER = '900001:/X\\x2dFlowtap\\x2dBench\\x3a\\x201\\x0d\\x0a/ name=bench-marker'


def word(r, lo=4, hi=8):
    return "".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(lo, hi)))


def literals(n):
    r = random.Random(1000 + n)
    seen = set()
    while len(seen) < n:
        seen.add("".join(r.choice("abcdefghijklmnopqrstuvwxyz0123456789")
                         for _ in range(r.randint(8, 16))))
    for i, lit in enumerate(sorted(seen)):
        print("%d:/%s/ name=lit%d" % (i + 1, lit, i + 1))


def regexes(n):
    r = random.Random(7)
    shapes = [
        lambda: "/%s[0-9]{2,6}%s/" % (word(r), word(r)),
        lambda: "/%s\\s+[a-z]{3,10}=[0-9]+/" % word(r),
        lambda: "/(%s|%s|%s)\\/[a-z0-9]{4,12}\\.(php|asp|jsp)/" % (word(r), word(r), word(r)),
        lambda: "/%s.{0,32}%s/s" % (word(r, 5, 8), word(r, 5, 8)),
        lambda: "/[A-Z][a-z]{2,8}-%s: [^\\r\\n]{1,40}%s/" % (word(r), word(r)),
        lambda: "/%s[^ ]{4,16}%s/i" % (word(r), word(r)),
    ]
    for i in range(n):
        print("%d:%s name=re%d" % (i + 1, shapes[i % len(shapes)](), i + 1))


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("literals", "regex"):
        print(__doc__, file=sys.stderr)
        return 2
    (literals if sys.argv[1] == "literals" else regexes)(int(sys.argv[2]))
    print(MARKER)
    return 0


if __name__ == "__main__":
    sys.exit(main())
