//! `zkattr params …`

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;
use zkattr_circuits::{field, params::GovernanceParams};

use super::{Ctx, Output};
use crate::error::{Error, Result};

/// Parameter commands.
#[derive(Debug, Subcommand)]
pub enum ParamsCmd {
    /// Validate a parameter file (or the defaults) and print it with its params_hash.
    Show(ShowParamsCmd),
}

impl ParamsCmd {
    /// Runs the subcommand.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        match self {
            ParamsCmd::Show(c) => c.run(ctx),
        }
    }
}

/// `zkattr params show [FILE]`
#[derive(Debug, Args)]
pub struct ShowParamsCmd {
    /// A TOML parameter file; the built-in defaults when omitted.
    pub file: Option<PathBuf>,
}

/// Reads and validates a TOML parameter file, or gives the built-in defaults for `None`.
pub fn load(file: Option<&std::path::Path>) -> Result<GovernanceParams> {
    Ok(match file {
        Some(f) => {
            let text = std::fs::read_to_string(f).map_err(|e| Error::io(f, e))?;
            GovernanceParams::from_toml(&text)?
        }
        None => GovernanceParams::default(),
    })
}

impl ShowParamsCmd {
    /// Runs it.
    pub fn run(&self, _ctx: &Ctx) -> Result<Output> {
        let params = load(self.file.as_deref())?;
        let hash = field::to_hex(&params.hash());
        Ok(Output {
            text: format!("# params_hash = {hash}\n{}", params.to_toml()?),
            json: json!({ "params_hash": hash, "params": params }),
        })
    }
}
