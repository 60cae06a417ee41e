#!/usr/bin/env python3
"""How much ROUGE-L the model's narrative can add on compact records, at most.

The model writes only the evolution part of a compact record's paragraph; the writer
writes the rest. This script takes the deterministic writer's per-record report
(`epicrisis eval DATASET --limit N --report det.jsonl`) and replaces its literal extract
(«Evolución (extracto literal de las notas): «…».») by
  - the extract's words without the label (what a model that copies the note gives), and
  - the reference's own evolution words (an oracle: the sentences of the reference that
    are not the admission, procedure, treatment or discharge sentence, and the clause
    after the last code of «Recibió …»),
then prints the mean ROUGE-L of each against the references, with the same tokens as
`epicrisis_pipeline::metrics::rouge_tokens` (folded, split between digits and letters).

Usage: narrative_ceiling.py DATASET.jsonl det.jsonl
"""
import json
import re
import sys
import unicodedata


def fold(s):
    return "".join(c for c in unicodedata.normalize("NFD", s.lower()) if unicodedata.category(c) != "Mn")


def tokens(s):
    return re.findall(r"[a-z]+|[0-9]+", fold(s))


def rouge_l(a, b):
    a, b = tokens(a), tokens(b)
    if not a or not b:
        return 0.0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            cur[j + 1] = prev[j] + 1 if x == y else max(cur[j], prev[j + 1])
        prev = cur
    lcs = prev[-1]
    p, r = lcs / len(a), lcs / len(b)
    return 2 * p * r / (p + r) if p + r else 0.0


EXTRACT = re.compile(r"Evolución \(extracto literal de las notas\): «(.*?)»\.")


def reference_evolution(ref):
    out = []
    for s in re.split(r"(?<=\.) ", ref):
        if s.startswith(("Ingresa", "Alta con", "Se realiza")):
            continue
        if s.startswith(("Recibio", "Recibió")):
            m = re.search(r"\([A-Z0-9]+\),? ((?:presentando|logrando|tolerando|con|suspendiendo|evolucionando).*)$", s)
            if m:
                out.append(m.group(1))
            continue
        out.append(s)
    return " ".join(out)


def main():
    refs = [json.loads(l).get("output", "") for l in open(sys.argv[1], encoding="utf-8")]
    det = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
    sums = [0.0, 0.0, 0.0]
    for d in det:
        ref = refs[d["line"] - 1]
        copied = EXTRACT.sub(lambda m: m.group(1) + ".", d["text"])
        oracle = EXTRACT.sub(lambda m: reference_evolution(ref), d["text"])
        for i, text in enumerate((d["text"], copied, oracle)):
            sums[i] += rouge_l(text, ref)
    n = max(len(det), 1)
    print(f"records: {len(det)}")
    print(f"deterministic writer:               {sums[0] / n:.3f}")
    print(f"the note's words without the label: {sums[1] / n:.3f} ({(sums[1] - sums[0]) / n:+.3f})")
    print(f"the reference's own evolution words: {sums[2] / n:.3f} ({(sums[2] - sums[0]) / n:+.3f})")


if __name__ == "__main__":
    main()
