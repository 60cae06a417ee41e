#!/usr/bin/env python3
"""Reference sentence embeddings with sentence-transformers (run with the venv's python,
$EPICRISIS_ST_PYTHON, made by scripts/common.sh need_reference_embedder). CPU only.

Embed: JSON on stdin, JSON on stdout.

    {"model": FOLDER, "texts": [...], "prompt": "query: " | "passage: " | "", "batch_size": 32}
    -> {"vectors": [[...], ...], "dim": N}

The prompt is prepended to every text (and, as sentence-transformers does by default, its
tokens are part of the mean pooling); vectors are L2-normalised (normalize_embeddings).

Benchmark:

    embed_reference.py --bench FOLDER --texts FILE.jsonl|FILE.json [--batch-size 32]
                       [--threads 2] [--prompt "passage: "] [--field text]
    -> {"texts": n, "tokens": t, "seconds": s, "tokens_per_s": x, "peak_rss_mb": y, ...}

FILE holds strings, or objects with a "text" field (--field names another), as a JSON
list or one per line (.jsonl). One warm-up batch runs first; then `encode` over all the
texts is timed. `tokens` counts what the model is fed: the model's tokenizer on prompt +
text, specials included, after its truncation to max_seq_length.
"""
import argparse
import json
import os
import resource
import sys
import time

# Never reach for a model hub: the folders are local.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load(folder):
    from sentence_transformers import SentenceTransformer

    if not os.path.isdir(folder):
        sys.exit(f"not a model folder: {folder}")
    return SentenceTransformer(folder, device="cpu", local_files_only=True)


def encode(model, texts, prompt, batch_size):
    return model.encode(
        texts,
        prompt=prompt or None,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )


def embed():
    req = json.load(sys.stdin)
    texts = req["texts"]
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        sys.exit('"texts" must be a list of strings')
    model = load(req["model"])
    get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dim = get_dim()
    vectors = encode(model, texts, req.get("prompt") or "", int(req.get("batch_size") or 32)) if texts else []
    json.dump({"vectors": [[float(x) for x in v] for v in vectors], "dim": dim}, sys.stdout)
    sys.stdout.write("\n")


def read_texts(path, field="text"):
    with open(path, encoding="utf-8") as f:
        if path.endswith(".jsonl"):
            items = [json.loads(line) for line in f if line.strip()]
        else:
            items = json.load(f)
    texts = []
    for it in items:
        if isinstance(it, str):
            texts.append(it)
        elif isinstance(it, dict) and isinstance(it.get(field), str):
            texts.append(it[field])
        else:
            sys.exit(f"{path}: each item must be a string or an object with a {field!r} string")
    return texts


def bench(args):
    import torch

    torch.set_num_threads(args.threads)
    texts = read_texts(args.texts, args.field)
    if not texts:
        sys.exit(f"{args.texts}: no texts")
    model = load(args.bench)
    prompt = args.prompt or ""
    tokens = 0
    for i in range(0, len(texts), args.batch_size):
        feats = model.tokenize([prompt + t for t in texts[i:i + args.batch_size]])
        tokens += int(feats["attention_mask"].sum())
    with torch.inference_mode():
        encode(model, texts[:args.batch_size], prompt, args.batch_size)  # warm-up
        t0 = time.perf_counter()
        encode(model, texts, prompt, args.batch_size)
        seconds = time.perf_counter() - t0
    print(json.dumps({
        "texts": len(texts),
        "tokens": tokens,
        "seconds": round(seconds, 4),
        "tokens_per_s": round(tokens / seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "batch_size": args.batch_size,
        "threads": args.threads,
        "max_seq_length": model.max_seq_length,
    }))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", metavar="FOLDER")
    ap.add_argument("--texts", metavar="FILE")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt", default="")
    ap.add_argument("--field", default="text", help="the text field of JSON objects (default: text)")
    args = ap.parse_args()
    if args.bench:
        if not args.texts:
            ap.error("--bench needs --texts")
        bench(args)
    else:
        embed()


if __name__ == "__main__":
    main()
