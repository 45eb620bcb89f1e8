//! The `zkattr` binary: parses arguments and dispatches; all work lives in the library.

use clap::Parser;
use zkattr_service::cli::Cli;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            // halo2-base warns when a circuit builder is dropped without being laid out, which happens
            // whenever keys come from the cache; that is expected here, not a problem to report.
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,halo2_base=error".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.run() {
        Ok(out) => {
            if cli.json {
                println!("{}", out.json);
            } else {
                println!("{}", out.text);
            }
        }
        // A receipt that fails its checks: the full report, then a non-zero exit.
        Err(zkattr_service::Error::ReceiptInvalid { text, json }) => {
            if cli.json {
                println!("{json}");
            } else {
                println!("{text}");
            }
            std::process::exit(2);
        }
        Err(e) => {
            if cli.json {
                println!("{}", serde_json::json!({ "error": e.to_string() }));
            }
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
