//! Times `BertEmbedder::embed` on the texts of a JSON list (profiling aid for
//! `epicrisis-dev bench-embeddings`, which is the benchmark of record).
//! Usage: cargo run --release -p epicrisis-embed --example embed_speed -- MODEL_DIR TEXTS.json [BATCH]
use epicrisis_embed::{BertEmbedder, BertOptions, Embedder, Role};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(file)) = (args.get(1), args.get(2)) else {
        return Err("usage: embed_speed MODEL_DIR TEXTS.json [BATCH]".into());
    };
    let batch: usize = args.get(3).map_or(Ok(32), |b| b.parse())?;
    let texts: Vec<String> = serde_json::from_str(&std::fs::read_to_string(file)?)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let e = BertEmbedder::load(
        std::path::Path::new(dir),
        BertOptions {
            max_batch: Some(batch),
            batch_tokens: Some(batch * 512),
            ..Default::default()
        },
    )?;
    let tokens: usize = refs.iter().map(|t| e.count_tokens(t).unwrap_or(0)).sum();
    e.embed(&refs[..batch.min(refs.len())], Role::Passage)?;
    let t = Instant::now();
    e.embed(&refs, Role::Passage)?;
    let s = t.elapsed().as_secs_f64();
    println!(
        "{} texts, {tokens} tokens, {s:.2} s, {:.1} tokens/s",
        refs.len(),
        tokens as f64 / s
    );
    Ok(())
}
