//! Contributor receipts end to end: `zkattr receipt verify` on a real receipt and on receipts tampered in
//! every part, and the coordinator's page verifying receipts in a real browser (headless Chromium driven
//! over the DevTools protocol).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use common::*;
use serde_json::{json, Value};

/// A proof directory for 8 items of the sample (INSECURE test setup), made once for every test here.
fn proven() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static P: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    P.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let (home, artifact) = small_trained(tmp.path(), 8);
        let out = tmp.path().join("proof");
        let p8 = params_for_8_items(&home, tmp.path());
        ok_json(
            &home,
            &prove_args(
                &artifact,
                &out,
                &["--insecure-test-srs", "--params", s(&p8)],
            ),
        );
        (tmp, home, out)
    })
}

/// The receipt of the contributor with the most items (so tampering with a second item is possible).
fn receipt_file() -> PathBuf {
    let (_, _, out) = proven();
    let mut best = (0, PathBuf::new());
    for e in std::fs::read_dir(out.join("receipts")).unwrap() {
        let p = e.unwrap().path();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let n = v["items"].as_array().unwrap().len();
        if n > best.0 && v["amount"] != "0" {
            best = (n, p);
        }
    }
    best.1
}

/// `zkattr receipt verify FILE --json` (with the key re-derived): the exit code and the report.
fn verify(file: &Path, extra: &[&str]) -> (i32, Value) {
    let (_, home, _) = proven();
    let mut args = vec![
        "--json",
        "receipt",
        "verify",
        s(file),
        "--insecure-test-srs",
    ];
    args.extend_from_slice(extra);
    let out = zkattr(home, &args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

fn failed_checks(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| {
            format!(
                "{}: {}",
                c["id"].as_str().unwrap(),
                c["detail"].as_str().unwrap()
            )
        })
        .collect()
}

/// Flips one hex digit of a `0x…` string at `at` (counted after the prefix).
fn flip_hex(s: &str, at: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    let i = 2 + at;
    b[i] = if b[i] == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).unwrap()
}

/// The tamperings the browser test shows too: (name, edit, the check that must fail, words it must say).
type Edit = fn(&mut Value);
fn browser_tamperings() -> Vec<(&'static str, Edit, &'static str, &'static str)> {
    vec![
        (
            "score",
            |v| {
                let s: i64 = v["items"][0]["score"].as_str().unwrap().parse().unwrap();
                v["items"][0]["score"] = (s + 1).to_string().into();
            },
            "scores",
            "the receipt says",
        ),
        (
            "path",
            |v| {
                let p = v["items"][0]["datanet_path"][0]
                    .as_str()
                    .unwrap()
                    .to_string();
                v["items"][0]["datanet_path"][0] = flip_hex(&p, 63).into();
            },
            "datanet_paths",
            "is not yours in datanet_root",
        ),
        (
            "proof byte",
            |v| {
                let p = v["proof"].as_str().unwrap().to_string();
                v["proof"] = flip_hex(&p, 2 * 700 + 1).into();
            },
            "proof",
            "does not verify",
        ),
    ]
}

#[test]
fn a_real_receipt_passes_every_check_and_every_tampering_is_caught_and_named() {
    let file = receipt_file();
    let (code, v) = verify(&file, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["ok"], true);
    let ids: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "format",
            "params",
            "reward_list",
            "entry",
            "reward_path",
            "datanet_paths",
            "features_paths",
            "query",
            "scores",
            "reward",
            "proof",
            "verifying_key"
        ]
    );
    // The text form names every check and the verdict.
    let (_, home, _) = proven();
    let text = String::from_utf8(zkattr(home, &["receipt", "verify", s(&file)]).stdout).unwrap();
    assert!(
        text.contains("ok   The proof verifies") && text.contains("valid: 0x"),
        "{text}"
    );

    let original: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(&str, Edit, &str, &str)> = browser_tamperings();
    cases.extend::<Vec<(&str, Edit, &str, &str)>>(vec![
        (
            "format",
            |v| v["format"] = "zkattr.receipt.v0".into(),
            "format",
            "this verifier reads",
        ),
        (
            "min_score",
            |v| v["params"]["attribution"]["min_score"] = 1.into(),
            "params",
            "hash to",
        ),
        (
            "list amount",
            |v| {
                let last = v["reward_list"].as_array().unwrap().len() - 1;
                let a: u128 = v["reward_list"][last]["amount"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                v["reward_list"][last]["amount"] = (a + 1).to_string().into();
            },
            "reward_list",
            "not the one proven",
        ),
        (
            "list order",
            |v| v["reward_list"].as_array_mut().unwrap().swap(0, 1),
            "reward_list",
            "strictly increasing",
        ),
        (
            "list entry dropped",
            |v| {
                v["reward_list"].as_array_mut().unwrap().pop();
            },
            "reward_list",
            "not the one proven",
        ),
        (
            "amount",
            |v| {
                let a: u128 = v["amount"].as_str().unwrap().parse().unwrap();
                v["amount"] = (a + 1).to_string().into();
            },
            "entry",
            "the receipt says",
        ),
        ("list index", |v| v["list_index"] = 0.into(), "entry", ""),
        (
            "claim path",
            |v| {
                let p = v["reward_path"][0].as_str().unwrap().to_string();
                v["reward_path"][0] = flip_hex(&p, 10).into();
            },
            "reward_path",
            "does not lead",
        ),
        (
            "reward root",
            |v| {
                let p = v["reward_root"].as_str().unwrap().to_string();
                v["reward_root"] = flip_hex(&p, 10).into();
            },
            "reward_path",
            "keccak Merkle root",
        ),
        (
            "content hash",
            |v| {
                let p = v["items"][0]["content_hash"].as_str().unwrap().to_string();
                v["items"][0]["content_hash"] = flip_hex(&p, 60).into();
            },
            "datanet_paths",
            "not yours",
        ),
        (
            "item index",
            |v| {
                let i = v["items"][0]["index"].as_u64().unwrap();
                v["items"][0]["index"] = (i ^ 1).into();
            },
            "datanet_paths",
            "",
        ),
        (
            "feature",
            |v| {
                let f = v["items"][0]["features"][3].as_i64().unwrap();
                v["items"][0]["features"][3] = (f + 1).into();
            },
            "features_paths",
            "not the committed ones",
        ),
        (
            "features path",
            |v| {
                let p = v["items"][0]["features_path"][1]
                    .as_str()
                    .unwrap()
                    .to_string();
                v["items"][0]["features_path"][1] = flip_hex(&p, 63).into();
            },
            "features_paths",
            "not the committed ones",
        ),
        (
            "query",
            |v| {
                let q = v["query"]["values"][5].as_i64().unwrap();
                v["query"]["values"][5] = (q + 1).into();
            },
            "query",
            "query_commitment is",
        ),
        (
            "score total",
            |v| {
                let s: i128 = v["score_total"].as_str().unwrap().parse().unwrap();
                v["score_total"] = (s + 1).to_string().into();
            },
            "scores",
            "sum to",
        ),
        (
            "clamped score",
            |v| {
                let s: u128 = v["score_clamped"].as_str().unwrap().parse().unwrap();
                v["score_clamped"] = (s + 1).to_string().into();
            },
            "scores",
            "clamped at zero",
        ),
        (
            "sum of scores",
            |v| {
                let s: u128 = v["sum_clamped"].as_str().unwrap().parse().unwrap();
                v["sum_clamped"] = (s + 1).to_string().into();
            },
            "reward",
            "capped at",
        ),
        (
            "public epoch",
            |v| v["public_inputs"]["epoch"] = 4.into(),
            "proof",
            "does not verify",
        ),
        (
            "verifying key",
            |v| {
                let k = v["verifier"]["vk"].as_str().unwrap().to_string();
                let at = k.len() - 10;
                v["verifier"]["vk"] = flip_hex(&k, at).into();
            },
            "proof",
            "vk_keccak",
        ),
        (
            "constraint system",
            |v| v["verifier"]["constraint_system"]["minimum_degree"] = 9.into(),
            "proof",
            "does not verify",
        ),
        // Crafted receipts that must be refused in words, never crash the verifier.
        (
            "no items",
            |v| v["items"] = json!([]),
            "datanet_paths",
            "lists no items",
        ),
        (
            "selector in the key",
            |v| v["verifier"]["constraint_system"]["gates"][0]["polys"][0] = json!({"selector": 0}),
            "proof",
            "not one halo2 can build",
        ),
        (
            "huge rotation",
            |v| v["verifier"]["constraint_system"]["instance_queries"][0][1] = i32::MIN.into(),
            "proof",
            "not one halo2 can build",
        ),
        (
            "huge k",
            |v| {
                // k = 28 in the key's header, with its hash recomputed so that only the size is wrong.
                let mut b = hex::decode(&v["verifier"]["vk"].as_str().unwrap()[2..]).unwrap();
                b[1..5].copy_from_slice(&28u32.to_le_bytes());
                v["verifier"]["vk"] = format!("0x{}", hex::encode(&b)).into();
                v["verifier"]["k"] = 0.into();
                use sha3::Digest;
                v["verifier"]["vk_keccak"] =
                    format!("0x{}", hex::encode(sha3::Keccak256::digest(&b))).into();
            },
            "proof",
            "rows are read",
        ),
        (
            "huge list index",
            |v| {
                let i = v["list_index"].as_u64().unwrap();
                v["list_index"] = ((1u64 << 32) + i).into();
            },
            "entry",
            "no entry",
        ),
        (
            "setup point",
            |v| v["verifier"]["s_g2"] = v["verifier"]["g2"].clone(),
            "proof",
            "does not verify",
        ),
    ]);
    for (name, edit, check, words) in cases {
        let mut v = original.clone();
        edit(&mut v);
        let path = dir.path().join(format!("{}.json", name.replace(' ', "-")));
        std::fs::write(&path, v.to_string()).unwrap();
        let (code, report) = verify(&path, &[]);
        assert_eq!(code, 2, "{name}: {report}");
        assert_eq!(report["ok"], false, "{name}");
        let failed = failed_checks(&report);
        assert!(
            failed
                .iter()
                .any(|f| f.starts_with(&format!("{check}: ")) && f.contains(words)),
            "{name}: expected check {check} to fail saying {words:?}; failed: {failed:?}"
        );
    }
    // A key that verifies its own proof but is not the circuit's is caught by re-deriving the key (the
    // receipt's own key check passes, so only the derived one can tell).
    let mut v = original.clone();
    v["verifier"]["constraint_system"]["minimum_degree"] = 9.into();
    let path = dir.path().join("other-circuit.json");
    std::fs::write(&path, v.to_string()).unwrap();
    let (_, report) = verify(&path, &[]);
    assert!(failed_checks(&report)
        .iter()
        .any(|f| f.starts_with("verifying_key: ")));

    // Not a receipt at all: refused in words, exit 1.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"format\": 1}").unwrap();
    let err = fails(home, &["receipt", "verify", s(&junk)]);
    assert!(err.contains("is not a zkattr receipt"), "{err}");
}

#[test]
fn receipts_need_a_settled_epoch_on_chain_and_the_contributors_key_to_claim() {
    let (_, home, _) = proven();
    let file = receipt_file();
    // Nothing is deployed on this home's embedded chain: the chain check fails and says why.
    let (code, v) = verify(&file, &["--chain"]);
    assert_eq!(code, 2);
    let failed = failed_checks(&v);
    assert!(
        failed.len() == 1
            && failed[0].starts_with("chain: ")
            && failed[0].contains("no contract at 0x00000000000000000000000000000000000000"),
        "{failed:?}"
    );
    // Claiming with a key that is not the contributor's is refused before anything is sent.
    let key = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key.path(), format!("{:064x}\n", 7u64 << 60)).unwrap();
    let err = fails(
        home,
        &["receipt", "claim", s(&file), "--key", s(key.path())],
    );
    assert!(err.contains("claim with the contributor's key"), "{err}");
}

// ---- the page in a real browser ----

/// Chromium: `$ZKATTR_CHROMIUM`, else `chromium` or `chromium-browser` on PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ZKATTR_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// Skips (with the reason printed) unless `ZKATTR_REQUIRE_BROWSER` is set, when it fails instead (CI).
fn missing(what: &str) {
    assert!(
        std::env::var_os("ZKATTR_REQUIRE_BROWSER").is_none(),
        "{what} (ZKATTR_REQUIRE_BROWSER is set)"
    );
    eprintln!("skipped: {what}");
}

/// Serves files of one directory over HTTP to any origin (the receipts the page fetches), until dropped.
struct FileServer {
    url: String,
}

impl FileServer {
    fn start(dir: PathBuf) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                if BufReader::new(&stream).read_line(&mut line).is_err() {
                    continue;
                }
                let name = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .trim_start_matches('/');
                let (status, body) = match std::fs::read(dir.join(name)) {
                    Ok(b) if !name.contains("..") => ("200 OK", b),
                    _ => ("404 Not Found", b"not found".to_vec()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nAccess-Control-Allow-Origin: *\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            }
        });
        Self { url }
    }
}

/// Headless Chromium, driven over its DevTools protocol.
struct Browser {
    child: Child,
    ws: tungstenite::WebSocket<TcpStream>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET over plain HTTP/1.1; the body by its Content-Length (Chromium keeps the connection open).
fn http_get(addr: &str, path: &str) -> String {
    let s = TcpStream::connect(addr).unwrap();
    write!(&s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

impl Browser {
    fn start(bin: &Path) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/…"
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("chromium printed its DevTools address")
                .unwrap();
            if let Some(rest) = line.split("ws://").nth(1) {
                break rest.split('/').next().unwrap().to_string();
            }
        };
        // Keep draining stderr so that Chromium never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let targets: Value = serde_json::from_str(&http_get(&addr, "/json/list")).unwrap();
        let page = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .expect("a page target")["webSocketDebuggerUrl"]
            .as_str()
            .unwrap()
            .to_string();
        let stream = TcpStream::connect(&addr).unwrap();
        let (ws, _) = tungstenite::client(page.as_str(), stream).unwrap();
        Self {
            child,
            ws,
            next_id: 0,
            _profile: profile,
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws.send(tungstenite::Message::text(msg)).unwrap();
        loop {
            let m = self.ws.read().unwrap();
            let Ok(text) = m.to_text() else { continue };
            let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        r["result"]["value"].clone()
    }

    /// Opens `url`, waits until the page has a verdict, and returns it with the checks and the time.
    fn verdict(&mut self, url: &str) -> (String, Vec<(String, bool, String)>, f64) {
        self.call("Page.navigate", json!({ "url": url }));
        let start = Instant::now();
        let verdict = loop {
            let v = self.eval(
                "document.readyState === 'complete' ? (document.body.dataset.verified || '') : ''",
            );
            if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
                break s.to_string();
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no verdict from {url}: {}",
                self.eval("document.getElementById('status').textContent")
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let checks = self.eval(
            "JSON.stringify([...document.querySelectorAll('#checks li')].map(li => [li.dataset.check, li.dataset.ok === 'true', li.textContent]))",
        );
        let checks: Vec<(String, bool, String)> =
            serde_json::from_str(checks.as_str().unwrap()).unwrap();
        let ms: f64 = self
            .eval("document.body.dataset.ms || '0'")
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        (verdict, checks, ms)
    }
}

#[test]
fn the_coordinators_page_verifies_receipts_in_chromium_and_names_each_tampering() {
    let web = zkattr_service::coord::server::default_receipts_web();
    if !web.join("zkattr_receipt_verifier.wasm").is_file() {
        return missing(&format!(
            "the receipt page is not built in {} (scripts/build-web.sh)",
            web.display()
        ));
    }
    let Some(bin) = chromium() else {
        return missing("no chromium on PATH (Debian: apt-get install chromium)");
    };

    // The coordinator, serving the page.
    let home = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let coord = rt.block_on(async {
        use zkattr_service::{coord::server, proving::SrsSource};
        let mut cfg = server::Config::new(home.path().to_path_buf(), SrsSource::InsecureTest);
        cfg.receipts_web = web.clone();
        let app = server::App::open(cfg).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(server::serve(app, listener, std::future::pending()));
        addr.to_string()
    });
    let head = |path: &str| {
        let mut s = TcpStream::connect(&coord).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut bytes = Vec::new();
        s.read_to_end(&mut bytes).unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        text.split("\r\n\r\n").next().unwrap().to_lowercase()
    };
    for (path, expect) in [
        ("/receipts/", "content-type: text/html"),
        (
            "/receipts/zkattr_receipt_verifier.wasm",
            "content-type: application/wasm",
        ),
        ("/receipts/../Cargo.toml", "http/1.1 404"),
        ("/receipts/Cargo.toml", "http/1.1 404"),
    ] {
        let h = head(path);
        assert!(h.contains(expect), "{path}: {h}");
    }

    // The real receipt and the three tampered ones, served to the page from another origin.
    let files = tempfile::tempdir().unwrap();
    let original: Value =
        serde_json::from_str(&std::fs::read_to_string(receipt_file()).unwrap()).unwrap();
    std::fs::write(files.path().join("real.json"), original.to_string()).unwrap();
    for (name, edit, _, _) in browser_tamperings() {
        let mut v = original.clone();
        edit(&mut v);
        std::fs::write(
            files
                .path()
                .join(format!("{}.json", name.replace(' ', "-"))),
            v.to_string(),
        )
        .unwrap();
    }
    let server = FileServer::start(files.path().to_path_buf());
    let mut browser = Browser::start(&bin);
    let page = |name: &str| {
        format!(
            "http://{coord}/receipts/?receipt={}/{name}.json",
            server.url
        )
    };

    let (verdict, checks, ms) = browser.verdict(&page("real"));
    assert_eq!(verdict, "valid", "{checks:?}");
    assert_eq!(checks.len(), 11, "{checks:?}");
    assert!(checks.iter().all(|c| c.1), "{checks:?}");
    eprintln!("browser: a real receipt verifies in {ms:.0} ms");
    // With the key fingerprint the contributor expects (from `zkattr receipt verify`): checked too.
    let fingerprint = verify(&receipt_file(), &[]).1["vk_fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let (verdict, checks, _) = browser.verdict(&format!("{}&key={fingerprint}", page("real")));
    assert_eq!(verdict, "valid", "{checks:?}");
    assert!(
        checks.len() == 12 && checks.iter().all(|c| c.1),
        "{checks:?}"
    );
    let other = format!("0x{}", "7".repeat(64));
    let (verdict, checks, _) = browser.verdict(&format!("{}&key={other}", page("real")));
    assert_eq!(verdict, "invalid", "{checks:?}");
    let red: Vec<_> = checks.iter().filter(|c| !c.1).collect();
    assert!(
        red.len() == 1 && red[0].0 == "expected_key" && red[0].2.contains("you expect"),
        "{red:?}"
    );
    for (name, _, check, words) in browser_tamperings() {
        let (verdict, checks, _) = browser.verdict(&page(&name.replace(' ', "-")));
        assert_eq!(verdict, "invalid", "{name}: {checks:?}");
        let red: Vec<_> = checks.iter().filter(|c| !c.1).collect();
        assert!(
            red.iter().any(|c| c.0 == check && c.2.contains(words)),
            "{name}: expected {check} red saying {words:?}: {red:?}"
        );
    }

    // Another receipt, e.g. one of `zkattr demo`'s (CI passes one after the main job): it must verify too,
    // and its times are printed (docs/performance.md).
    if let Some(file) = std::env::var_os("ZKATTR_EXTRA_RECEIPT") {
        std::fs::copy(file, files.path().join("extra.json")).unwrap();
        let mut times = Vec::new();
        for _ in 0..5 {
            let (verdict, checks, ms) = browser.verdict(&page("extra"));
            assert_eq!(verdict, "valid", "{checks:?}");
            assert!(
                checks.len() == 11 && checks.iter().all(|c| c.1),
                "{checks:?}"
            );
            times.push(ms);
        }
        eprintln!("browser: the extra receipt verifies in {times:?} ms");
    }
}
