#!/usr/bin/env python3
"""A tiny XLM-RoBERTa sentence encoder with seeded random weights, for testing the
XLM-RoBERTa path (BGE-M3's architecture) against sentence-transformers without
downloading a 2 GB model. Run with the reference venv's python ($EPICRISIS_ST_PYTHON):

    tiny_xlmr.py TOKENIZER_FOLDER OUT_FOLDER

TOKENIZER_FOLDER supplies an XLM-R tokenizer (multilingual-e5-small's is one: its
tokenizer.json is XLM-RoBERTa's SentencePiece). OUT_FOLDER becomes a standard Hugging Face
folder (config.json with model_type xlm-roberta, model.safetensors, the tokenizer files)
with the sentence-transformers files of a CLS-pooled model, as BGE-M3 ships them.
Deterministic: the same seed gives the same weights.
"""
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main():
    src, out = sys.argv[1], sys.argv[2]
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    with open(os.path.join(src, "tokenizer.json"), encoding="utf-8") as f:
        vocab = len(json.load(f)["model"]["vocab"])
    torch.manual_seed(20261129)
    config = XLMRobertaConfig(
        vocab_size=vocab,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=514,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        layer_norm_eps=1e-5,
    )
    model = XLMRobertaModel(config, add_pooling_layer=False)
    model.eval()
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "sentencepiece.bpe.model"):
        if os.path.exists(os.path.join(src, name)):
            shutil.copy(os.path.join(src, name), os.path.join(out, name))
    with open(os.path.join(out, "modules.json"), "w") as f:
        json.dump([
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ], f)
    with open(os.path.join(out, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": 512, "do_lower_case": False}, f)
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    with open(os.path.join(out, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": 64, "pooling_mode_cls_token": True,
                   "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False,
                   "pooling_mode_mean_sqrt_len_tokens": False}, f)
    os.makedirs(os.path.join(out, "2_Normalize"), exist_ok=True)
    print(out)


if __name__ == "__main__":
    main()
