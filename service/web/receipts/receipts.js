// zkattr receipt page: loads the WebAssembly verifier (no imports, no glue) and checks a dropped receipt.
// Nothing leaves the browser. `?receipt=URL` loads a receipt from a URL instead (links and tests);
// `?key=0x…` (or the field on the page) is the verifying-key fingerprint the contributor expects.
"use strict";

const $ = (id) => document.getElementById(id);
let verifier = null;
let wasmBytes = null;

function setStatus(text, state) {
  $("status").textContent = text;
  $("status").dataset.state = state;
}

async function loadVerifier() {
  if (!wasmBytes) wasmBytes = await (await fetch("zkattr_receipt_verifier.wasm")).arrayBuffer();
  const { instance } = await WebAssembly.instantiate(wasmBytes, {});
  return instance.exports;
}

// Copies `input` (bytes) into the module, runs the check and returns the parsed answer.
function runCheck(input) {
  const e = verifier;
  const ptr = e.zkattr_alloc(input.length);
  new Uint8Array(e.memory.buffer, ptr, input.length).set(input);
  let out;
  try {
    out = e.zkattr_verify(ptr, input.length);
  } finally {
    e.zkattr_free(ptr, input.length);
  }
  const len = new DataView(e.memory.buffer).getUint32(out, true);
  const text = new TextDecoder().decode(new Uint8Array(e.memory.buffer, out + 4, len));
  e.zkattr_free(out, 4 + len);
  return JSON.parse(text);
}

function chart(scores) {
  const svg = $("chart");
  svg.innerHTML = "";
  const w = 600, h = 180, pad = 24;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  if (scores.length === 0) return;
  const values = scores.map(([, s]) => Number(s));
  const max = Math.max(...values.map(Math.abs), 1);
  const zero = h / 2;
  const bw = (w - 2 * pad) / values.length;
  const ns = "http://www.w3.org/2000/svg";
  const axis = document.createElementNS(ns, "line");
  Object.entries({ x1: pad, x2: w - pad, y1: zero, y2: zero, stroke: "#888" })
    .forEach(([k, v]) => axis.setAttribute(k, v));
  svg.appendChild(axis);
  values.forEach((v, i) => {
    const bar = document.createElementNS(ns, "rect");
    const len = (Math.abs(v) / max) * (h / 2 - pad);
    bar.setAttribute("x", pad + i * bw + bw * 0.1);
    bar.setAttribute("width", Math.max(bw * 0.8, 1));
    bar.setAttribute("y", v >= 0 ? zero - len : zero);
    bar.setAttribute("height", Math.max(len, 0.5));
    bar.setAttribute("fill", v >= 0 ? "#3b6fd8" : "#d93025");
    bar.dataset.item = scores[i][0];
    const title = document.createElementNS(ns, "title");
    title.textContent = `item ${scores[i][0]}: score ${scores[i][1]}`;
    bar.appendChild(title);
    svg.appendChild(bar);
  });
}

function show(report, receipt, ms) {
  $("result").hidden = false;
  const verdict = $("verdict");
  verdict.dataset.ok = String(report.ok);
  const pinned = (report.checks || []).some((c) => c.id === "expected_key");
  verdict.textContent = report.ok
    ? (pinned
      ? "Valid: every check passed, with the verifying key you expect"
      : "Valid: every check passed, with the verifying key the receipt carries (compare its fingerprint below)")
    : `Not valid: ${report.error || report.checks.filter((c) => !c.ok).length + " check(s) failed"}`;
  const list = $("checks");
  list.innerHTML = "";
  for (const c of report.checks || []) {
    const li = document.createElement("li");
    li.dataset.check = c.id;
    li.dataset.ok = String(c.ok);
    const mark = document.createElement("b");
    mark.textContent = c.ok ? "✓ ok" : "✗ fail";
    const detail = document.createElement("span");
    detail.className = "detail";
    detail.textContent = c.detail;
    li.append(mark, ` ${c.title}`, detail);
    list.appendChild(li);
  }
  const pool = BigInt(/^\d+$/.test(report.pool || "") ? report.pool : "0");
  const mine = BigInt(/^\d+$/.test(report.amount || "") ? report.amount : "0");
  const pct = pool > 0n ? Number((mine * 1000000n) / pool) / 10000 : 0;
  $("share").textContent = report.contributor
    ? `${report.contributor} receives ${report.amount} of a pool of ${report.pool} (${pct}%).`
    : "";
  $("pool-mine").style.width = `${Math.min(pct, 100)}%`;
  chart(report.scores || []);
  $("key").textContent = report.vk_fingerprint
    ? `fingerprint ${report.vk_fingerprint} (keccak ${report.vk_keccak}). The proof is checked with the key the receipt carries; the attribution circuit's key has the fingerprint \`zkattr receipt verify --srs FILE\` derives from the setup: enter it above (or ?key=…) to have it checked.`
    : "The verifying key could not be read.";
  $("statement").textContent = (receipt && receipt.statement) || "";
  setStatus(`Checked in ${ms.toFixed(0)} ms, in this browser.`, report.ok ? "valid" : "invalid");
  document.body.dataset.verified = report.ok ? "valid" : "invalid";
  document.body.dataset.ms = ms.toFixed(1);
}

async function check(bytes) {
  const t0 = performance.now();
  let report;
  try {
    report = runCheck(bytes);
  } catch (err) {
    report = { ok: false, error: `the verifier stopped: ${err}`, checks: [] };
    // A trapped module may hold half-updated memory: start a fresh one for the next receipt.
    verifier = await loadVerifier();
  }
  const expected = ($("expect-key").value || "").trim().toLowerCase();
  if (expected && report.checks) {
    const ok = report.vk_fingerprint === expected;
    report.checks.push({
      id: "expected_key",
      title: "The verifying key is the one you expect",
      ok,
      detail: ok
        ? `fingerprint ${expected}`
        : `the receipt's key is ${report.vk_fingerprint || "unreadable"}; you expect ${expected}`,
    });
    report.ok = report.ok && ok;
  }
  const ms = performance.now() - t0;
  let receipt = null;
  try { receipt = JSON.parse(new TextDecoder().decode(bytes)); } catch (_) { /* shown by the report */ }
  show(report, receipt, ms);
}

async function main() {
  try {
    verifier = await loadVerifier();
  } catch (err) {
    setStatus(`The verifier could not be loaded: ${err}`, "error");
    document.body.dataset.verified = "error";
    return;
  }
  setStatus("Ready: drop a receipt.", "ready");
  const drop = $("drop");
  const params = new URLSearchParams(location.search);
  if (params.get("key")) $("expect-key").value = params.get("key");
  const take = async (file) => check(new Uint8Array(await file.arrayBuffer()));
  $("file").addEventListener("change", (ev) => ev.target.files[0] && take(ev.target.files[0]));
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault();
    drop.classList.remove("over");
    if (ev.dataTransfer.files[0]) take(ev.dataTransfer.files[0]);
  });
  const url = params.get("receipt");
  if (url) {
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      await check(new Uint8Array(await res.arrayBuffer()));
    } catch (err) {
      setStatus(`The receipt at ${url} could not be loaded: ${err}`, "error");
      document.body.dataset.verified = "error";
    }
  }
}

main();
