//! Where a GPU proof's time goes: the wall time of each section the GPU prover opens (halo2-axiom-gpu's
//! `perf_section!`, a tracing span `halo2_section` with a `phase` field; zkattr's own spans
//! `zkattr_section`), summed per path of nested sections, and the host-device transfers it reports
//! (`halo2_perf` events: kind, label, bytes). Sections opened on another thread than their parent's are
//! roots of their own.

use std::{
    collections::HashMap,
    fmt::Debug,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use tracing::{
    field::{Field, Visit},
    span, Event, Subscriber,
};
use tracing_subscriber::{layer::Context, registry::LookupSpan, Layer};

/// One path of nested sections: how often it closed and its summed wall time.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub path: String,
    pub depth: usize,
    pub calls: u64,
    pub total: Duration,
}

#[derive(Default)]
struct Totals {
    rows: Vec<Row>, // in the order the paths were first opened: a tree, parents before children
    index: HashMap<String, usize>,
    transfers: Vec<(String, u64, u64)>, // "h2d label": count, bytes
}

/// The recording layer; clones share one table.
#[derive(Clone, Default)]
pub struct Phases(Arc<Mutex<Totals>>);

struct Open {
    path: String,
    depth: usize,
    start: Instant,
}

#[derive(Default)]
struct Fields {
    phase: Option<String>,
    kind: Option<String>,
    label: Option<String>,
    bytes: Option<u64>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "phase" => self.phase = Some(value.to_owned()),
            "kind" => self.kind = Some(value.to_owned()),
            "label" => self.label = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "bytes" {
            self.bytes = Some(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        let text = || format!("{value:?}").trim_matches('"').to_owned();
        match field.name() {
            "phase" => self.phase = Some(text()),
            "kind" => self.kind = Some(text()),
            "label" => self.label = Some(text()),
            _ => {}
        }
    }
}

impl Phases {
    fn totals(&self) -> std::sync::MutexGuard<'_, Totals> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The rows and transfers recorded since the last call, which empties the table.
    pub fn take(&self) -> (Vec<Row>, Vec<(String, u64, u64)>) {
        let mut t = self.totals();
        let rows = std::mem::take(&mut t.rows);
        t.index.clear();
        (rows, std::mem::take(&mut t.transfers))
    }

    /// The table as text lines: each section at least `min` long, indented by depth, with its share of
    /// `whole`; then the transfers.
    pub fn report(&self, whole: Duration, min: Duration) -> Vec<String> {
        let (rows, transfers) = self.take();
        let mut out = Vec::new();
        for r in rows.iter().filter(|r| r.total >= min) {
            let name = r.path.rsplit('/').next().unwrap_or(&r.path);
            out.push(format!(
                "{:indent$}{name}: {:.1} ms{}, {:.1}%",
                "",
                r.total.as_secs_f64() * 1e3,
                if r.calls > 1 {
                    format!(" in {} calls", r.calls)
                } else {
                    String::new()
                },
                100.0 * r.total.as_secs_f64() / whole.as_secs_f64().max(1e-9),
                indent = 2 * r.depth
            ));
        }
        for (what, count, bytes) in transfers {
            out.push(format!(
                "transfer {what}: {count}x, {:.1} MB",
                bytes as f64 / 1e6
            ));
        }
        out
    }
}

impl<S> Layer<S> for Phases
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let name = attrs.metadata().name();
        if name != "halo2_section" && name != "zkattr_section" {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let (Some(phase), Some(span)) = (fields.phase, ctx.span(id)) else {
            return;
        };
        let (parent, depth) = span
            .scope()
            .skip(1)
            .find_map(|s| {
                s.extensions()
                    .get::<Open>()
                    .map(|o| (o.path.clone(), o.depth + 1))
            })
            .unwrap_or_default();
        let path = if parent.is_empty() {
            phase
        } else {
            format!("{parent}/{phase}")
        };
        {
            let mut t = self.totals();
            if !t.index.contains_key(&path) {
                let i = t.rows.len();
                t.rows.push(Row {
                    path: path.clone(),
                    depth,
                    calls: 0,
                    total: Duration::ZERO,
                });
                t.index.insert(path.clone(), i);
            }
        }
        span.extensions_mut().insert(Open {
            path,
            depth,
            start: Instant::now(),
        });
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(open) = span.extensions_mut().remove::<Open>() else {
            return;
        };
        let elapsed = open.start.elapsed();
        let mut t = self.totals();
        // A `take` between the span's opening and closing dropped its row: add it again.
        let i = match t.index.get(&open.path) {
            Some(&i) => i,
            None => {
                let i = t.rows.len();
                t.rows.push(Row {
                    path: open.path.clone(),
                    depth: open.depth,
                    calls: 0,
                    total: Duration::ZERO,
                });
                t.index.insert(open.path, i);
                i
            }
        };
        t.rows[i].calls += 1;
        t.rows[i].total += elapsed;
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "halo2_perf" {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let (Some(kind), Some(bytes)) = (fields.kind, fields.bytes) else {
            return;
        };
        let what = format!("{kind} {}", fields.label.unwrap_or_default());
        let mut t = self.totals();
        match t.transfers.iter_mut().find(|(w, _, _)| *w == what) {
            Some(e) => {
                e.1 += 1;
                e.2 += bytes;
            }
            None => t.transfers.push((what, 1, bytes)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn nested_sections_are_summed_per_path_and_transfers_per_label() {
        let phases = Phases::default();
        let subscriber = tracing_subscriber::registry().with(phases.clone());
        tracing::subscriber::with_default(subscriber, || {
            let _root = tracing::info_span!("halo2_section", phase = "create_proof").entered();
            for _ in 0..2 {
                let _s = tracing::info_span!("halo2_section", phase = "msm").entered();
                std::thread::sleep(Duration::from_millis(2));
                tracing::info!(target: "halo2_perf", kind = "h2d", label = "bases", bytes = 64u64);
            }
            let _other = tracing::info_span!("not_a_section", phase = "ignored").entered();
            let _s = tracing::info_span!("zkattr_section", phase = "ours").entered();
        });
        let (rows, transfers) = phases.take();
        let paths: Vec<_> = rows
            .iter()
            .map(|r| (r.path.as_str(), r.depth, r.calls))
            .collect();
        assert_eq!(
            paths,
            [
                ("create_proof", 0, 1),
                ("create_proof/msm", 1, 2),
                ("create_proof/ours", 1, 1)
            ]
        );
        assert!(rows[1].total >= Duration::from_millis(4), "{rows:?}");
        assert!(rows[0].total >= rows[1].total, "{rows:?}");
        assert_eq!(transfers, [("h2d bases".to_owned(), 2, 128)]);
        assert!(phases.take().0.is_empty(), "take empties the table");
    }
}
