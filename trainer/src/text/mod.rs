//! Text Datanets: BERT tokenisation, the frozen MiniLM encoder with optional LoRA, and the text model.

pub mod bert;
pub mod model;
pub mod tokenizer;
