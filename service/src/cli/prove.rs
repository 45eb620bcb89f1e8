//! `zkattr prove` and `zkattr verify`.

use std::{path::PathBuf, time::Duration};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use super::{Ctx, Output};
use crate::{
    datanet::Datanets,
    error::{Error, Result},
    proving::{self, PhaseTime, Progress, ProveRequest, SrsSource},
};

/// Which SRS to use (one of the two is required).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct SrsArgs {
    /// KZG setup file (docs/circuit.md: format, and how to import a public ceremony).
    #[arg(long, value_name = "FILE")]
    pub srs: Option<PathBuf>,
    /// Use the seeded test setup instead. INSECURE: anyone can forge proofs against it.
    #[arg(long)]
    pub insecure_test_srs: bool,
}

impl SrsArgs {
    /// The SRS chosen.
    pub fn source(&self) -> SrsSource {
        match &self.srs {
            Some(p) => SrsSource::File(p.clone()),
            None => SrsSource::InsecureTest,
        }
    }
}

/// `zkattr prove`
#[derive(Debug, Args)]
pub struct ProveCmd {
    /// Datanet name.
    #[arg(long)]
    pub datanet: String,
    /// Sealed version.
    #[arg(long)]
    pub version: u64,
    /// Output directory of `zkattr train` (model.json, attribution.json).
    #[arg(long, value_name = "DIR")]
    pub artifact: PathBuf,
    /// Governance parameter file (TOML); the built-in defaults when omitted.
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// Epoch number.
    #[arg(long)]
    pub epoch: u64,
    /// Reward pool in token base units.
    #[arg(long)]
    pub pool: u128,
    /// Chain id of the settlement contract.
    #[arg(long)]
    pub chain_id: u64,
    /// Settlement contract address (0x…).
    #[arg(long)]
    pub settlement: String,
    /// The KZG setup.
    #[command(flatten)]
    pub srs: SrsArgs,
    /// Where to write the proof directory (must not exist).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Where to prove: auto (a GPU when this zkattr is built with CUDA and a usable one is present, else
    /// the CPU), cpu, or cuda (fails with the reason when no GPU can be used).
    #[arg(long, default_value = "auto", value_name = "auto|cpu|cuda")]
    pub backend: zkattr_gpu_msm::BackendChoice,
    /// The memory the keys and the proof may take (bytes, or with a K, M, G or T suffix: binary units).
    /// Default: what the machine has available when it starts (MemAvailable + SwapFree). A circuit whose
    /// estimate (about 4 KiB per row) is larger is refused before any work.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory_limit: Option<u64>,
}

/// `4096`, `512M`, `8G`, `8GiB`, `1.5T`: bytes, the suffixes in powers of 1024.
pub(crate) fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let upper = s.trim().to_ascii_uppercase();
    let t = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (num, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("{s:?}: unknown unit {c:?} (use K, M, G or T)")),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 8G, 512M, 4096)"))?;
    let bytes = n * (1u64 << shift) as f64;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("{s:?} is not a size of at least one byte"));
    }
    Ok(bytes as u64)
}

/// `zkattr verify DIR`
#[derive(Debug, Args)]
pub struct VerifyCmd {
    /// A proof directory written by `zkattr prove`.
    pub dir: PathBuf,
    /// The KZG setup the proof was made with.
    #[command(flatten)]
    pub srs: SrsArgs,
    /// Also check the proof with the generated Solidity verifier in an in-process EVM (revm).
    #[arg(long)]
    pub evm: bool,
    /// Solidity compiler for --evm (native solc's --standard-json interface); default: $ZKATTR_SOLC, else
    /// verifier-contracts/bin/solc of the source tree this binary was built from.
    #[arg(long, value_name = "PATH", requires = "evm")]
    pub solc: Option<PathBuf>,
}

/// Phase progress on stderr: a spinner with the elapsed time per phase, then one line per finished phase.
pub(super) struct Spinner {
    bar: Option<ProgressBar>,
    hidden: bool,
}

impl Spinner {
    pub(super) fn new(hidden: bool) -> Self {
        Self { bar: None, hidden }
    }
}

impl Progress for Spinner {
    fn start(&mut self, phase: &str) {
        let target = if self.hidden {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"),
        );
        bar.set_message(phase.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bar = Some(bar);
    }

    fn done(&mut self, time: &PhaseTime) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            if !self.hidden {
                eprintln!(
                    "  {:<10} {:>8.2} s  {}",
                    time.phase, time.seconds, time.detail
                );
            }
        }
    }
}

pub(super) fn timing_table(times: &[PhaseTime]) -> String {
    let total: f64 = times.iter().map(|t| t.seconds).sum();
    let mut s = String::from("phase        seconds  detail\n");
    for t in times {
        s.push_str(&format!(
            "{:<10} {:>9.2}  {}\n",
            t.phase, t.seconds, t.detail
        ));
    }
    s.push_str(&format!("{:<10} {:>9.2}\n", "total", total));
    s
}

fn settlement(s: &str) -> Result<[u8; 20]> {
    crate::datanet::record::parse_address(s)
        .map(|a| a.0 .0)
        .map_err(|reason| Error::BadArtifact(format!("--settlement: {reason}")))
}

impl ProveCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let params = super::params::load(self.params.as_deref())?;
        let nets = Datanets::open_existing(&ctx.home)?.ok_or_else(|| {
            Error::io(
                &ctx.home,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no zkattr home here"),
            )
        })?;
        let req = ProveRequest {
            datanet: self.datanet.clone(),
            version: self.version,
            artifact: self.artifact.clone(),
            params,
            epoch: self.epoch,
            pool: self.pool,
            chain_id: self.chain_id,
            settlement: settlement(&self.settlement)?,
            srs: self.srs.source(),
            keys_dir: ctx.keys.clone(),
            out: self.out.clone(),
            backend: self.backend,
            memory_limit: self.memory_limit,
        };
        let r = proving::prove_epoch(&nets, &req, &mut Spinner::new(ctx.json))?;
        let st = &r.statement;
        let insecure = matches!(req.srs, SrsSource::InsecureTest);
        let mut text = format!(
            "proved {} v{} epoch {}: {} items, k = {}, proof {} bytes\n\
             {} contributors rewarded {} of pool {}\n\
             wrote {}\n\n{}",
            st.datanet,
            st.version,
            st.public_inputs.epoch,
            st.items,
            st.k,
            r.proof_bytes,
            r.rewards.len(),
            st.public_inputs.total_rewarded,
            st.public_inputs.pool,
            r.out.display(),
            timing_table(&st.timings)
        );
        if insecure {
            text.push_str("\nWARNING: made with the insecure test SRS; not for real rewards.\n");
        }
        Ok(Output {
            json: json!({
                "out": r.out,
                "proof_bytes": r.proof_bytes,
                "keys_cached": r.keys_cached.is_ok(),
                "insecure_test_srs": insecure,
                "statement": st,
            }),
            text,
        })
    }
}

impl VerifyCmd {
    /// Runs it: `Ok` only when the directory is consistent and the proof verifies.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let solc = self
            .solc
            .clone()
            .unwrap_or_else(zkattr_circuits::halo2::evm::default_solc);
        let r = proving::verify_dir(
            &self.dir,
            &self.srs.source(),
            &ctx.keys,
            self.evm.then_some(solc.as_path()),
            &mut Spinner::new(ctx.json),
        )?;
        let st = &r.statement;
        Ok(Output {
            json: json!({
                "valid": true,
                "datanet": st.datanet,
                "version": st.version,
                "epoch": st.public_inputs.epoch,
                "entries": r.entries,
                "receipts": r.receipts,
                "public_inputs": st.public_inputs,
                "evm": r.evm,
                "timings": r.timings,
            }),
            text: format!(
                "valid: {} v{} epoch {} pays {} of pool {} to {} contributors ({} receipts checked){}\n\n{}",
                st.datanet,
                st.version,
                st.public_inputs.epoch,
                st.public_inputs.total_rewarded,
                st.public_inputs.pool,
                r.entries,
                r.receipts,
                r.evm.as_ref().map_or(String::new(), |e| format!(
                    "\nthe generated Solidity verifier ({} bytes) accepts it in revm: {} gas",
                    e.runtime_bytes, e.gas
                )),
                timing_table(&r.timings)
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_in_binary_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert_eq!(parse_size("8GiB"), Ok(8 << 30));
        assert_eq!(parse_size("8gb"), Ok(8 << 30));
        assert_eq!(parse_size("1.5T"), Ok(3 << 39));
        for bad in ["", "G", "8X", "-1G", "0", "lots", "1e30T"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }
}
