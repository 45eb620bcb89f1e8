//! zkattr service: the state database, Datanets, and the `zkattr` command line.
//!
//! ```no_run
//! use zkattr_service::datanet::{Datanets, ImportOptions};
//!
//! let home = std::path::Path::new(".zkattr");
//! let mut nets = Datanets::open(home)?;
//! nets.create("digits")?;
//! let file = std::io::BufReader::new(std::fs::File::open("data/digits/records.jsonl").unwrap());
//! nets.import("digits", file, "records.jsonl", ImportOptions::default(), &mut |_| {})?;
//! let v1 = nets.seal("digits")?;
//! println!("root {}", v1.root);
//! # Ok::<(), zkattr_service::Error>(())
//! ```
#![deny(missing_docs)]

pub mod chain;
pub mod cli;
pub mod coord;
pub mod datanet;
pub mod db;
pub mod epoch;
pub mod error;
pub mod proving;
pub mod sample;

pub use error::{Error, Result};
