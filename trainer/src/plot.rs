//! PNG plot of an attribution eval: predicted against measured margins.
//!
//! Three panels: (1) the query whose LDS is the median one, its predicted margin `sum_{i in S_m} tau_ij`
//! against the margin measured after each retrain `m`; (2) every query, both axes standardised per query
//! (z-scores), so that all queries share one scale; (3) the histogram of per-query LDS with the mean marked.
//! Text is drawn with the DejaVu Sans font that the `dejavu` crate embeds, so nothing depends on system fonts.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::{
    error::{Error, Result},
    eval::{EvalReport, QueryMargins},
};

const WIDTH: u32 = 1500;
const HEIGHT: u32 = 520;
const FONT: &str = "sans-serif";

fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.to_owned(),
        source: std::io::Error::other(format!("plot: {e}")),
    }
}

fn standardise(v: &[f64]) -> Vec<f64> {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    if sd == 0.0 || !sd.is_finite() {
        return vec![0.0; v.len()];
    }
    v.iter().map(|x| (x - mean) / sd).collect()
}

/// `(min, max)` of the finite values, padded by 5% on each side; `(-1, 1)` when there are none.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return (-1.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad, hi + pad)
}

/// Least-squares line `y = a + b x` through the points, if `x` varies.
fn fit(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let b = sxy / sxx;
    Some((my - b * mx, b))
}

/// The query with the median per-query LDS.
fn median_query(margins: &[QueryMargins]) -> Option<&QueryMargins> {
    let mut order: Vec<&QueryMargins> = margins.iter().collect();
    order.sort_by(|a, b| a.lds.total_cmp(&b.lds));
    order.get(order.len() / 2).copied()
}

/// Renders `report`'s margins to a PNG at `path` (parent directories are created). `title` heads the image.
pub fn margins_png(report: &EvalReport, title: &str, path: &Path) -> Result<()> {
    let Some(median) = median_query(&report.margins) else {
        return Err(Error::BadEval("no queries to plot".into()));
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    // Registering twice is harmless: the later registration replaces the earlier one.
    register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| plot_error(path, "the embedded font does not parse"))?;
    register_font(FONT, FontStyle::Bold, dejavu::sans::bold())
        .map_err(|_| plot_error(path, "the embedded font does not parse"))?;

    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let root = root
        .titled(title, (FONT, 24).into_font().style(FontStyle::Bold))
        .map_err(|e| plot_error(path, e))?;
    let panels = root.split_evenly((1, 3));
    let e = |e| plot_error(path, e);

    // 1. The median query.
    {
        let (x0, x1) = range(median.predicted.iter().copied());
        let (y0, y1) = range(median.actual.iter().copied());
        let mut chart = ChartBuilder::on(&panels[0])
            .caption(format!("median query (LDS {:.3})", median.lds), (FONT, 18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("predicted margin (sum of scores in the subset)")
            .y_desc("measured margin after retraining")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .x_labels(6)
            .y_labels(6)
            .draw()
            .map_err(e)?;
        chart
            .draw_series(
                median
                    .predicted
                    .iter()
                    .zip(&median.actual)
                    .map(|(&x, &y)| Circle::new((x, y), 3, BLUE.mix(0.7).filled())),
            )
            .map_err(e)?;
        if let Some((a, b)) = fit(&median.predicted, &median.actual) {
            chart
                .draw_series(LineSeries::new(
                    [(x0, a + b * x0), (x1, a + b * x1)],
                    RED.stroke_width(2),
                ))
                .map_err(e)?;
        }
    }

    // 2. All queries, standardised per query.
    {
        let points: Vec<(f64, f64)> = report
            .margins
            .iter()
            .flat_map(|q| {
                standardise(&q.predicted)
                    .into_iter()
                    .zip(standardise(&q.actual))
            })
            .collect();
        let (lo, hi) = range(points.iter().flat_map(|&(x, y)| [x, y]));
        let mut chart = ChartBuilder::on(&panels[1])
            .caption(
                format!(
                    "all {} queries x {} retrains, z-scored per query",
                    report.queries, report.retrains
                ),
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(lo..hi, lo..hi)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("predicted margin (z)")
            .y_desc("measured margin (z)")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .x_labels(6)
            .y_labels(6)
            .draw()
            .map_err(e)?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 1, BLUE.mix(0.25).filled())),
            )
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new([(lo, lo), (hi, hi)], BLACK.mix(0.5)))
            .map_err(e)?;
    }

    // 3. Histogram of per-query LDS.
    {
        const BINS: usize = 20;
        let mut counts = [0usize; BINS];
        for q in &report.margins {
            let b = (((q.lds + 1.0) / 2.0) * BINS as f64).floor();
            counts[(b.max(0.0) as usize).min(BINS - 1)] += 1;
        }
        let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.1;
        let mut chart = ChartBuilder::on(&panels[2])
            .caption(
                format!(
                    "per-query LDS (red: mean {:.3}, black: noise ceiling {:.3})",
                    report.lds, report.noise_ceiling
                ),
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(50)
            .build_cartesian_2d(-1.0f64..1.0f64, 0.0f64..top)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("Spearman correlation over retrains")
            .y_desc("queries")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .x_labels(9)
            .y_labels(6)
            .draw()
            .map_err(e)?;
        let w = 2.0 / BINS as f64;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                let x = -1.0 + i as f64 * w;
                Rectangle::new([(x, 0.0), (x + w, c as f64)], BLUE.mix(0.6).filled())
            }))
            .map_err(e)?;
        for (value, colour) in [(report.lds, RED), (report.noise_ceiling, BLACK)] {
            chart
                .draw_series(LineSeries::new(
                    [(value, 0.0), (value, top)],
                    colour.stroke_width(2),
                ))
                .map_err(e)?;
        }
    }
    root.present().map_err(|e| plot_error(path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Baselines;

    fn report(margins: Vec<QueryMargins>) -> EvalReport {
        EvalReport {
            models: 1,
            lds: 0.5,
            noise_ceiling: 0.8,
            mislabel_recall_at_10: None,
            quantised_lds_gap: 0.0,
            baselines: Baselines {
                grad_dot: 0.1,
                tracin: 0.1,
            },
            query_accuracy: 1.0,
            retrains: margins.first().map_or(0, |q| q.actual.len()),
            queries: margins.len(),
            train_items: 10,
            margins,
        }
    }

    #[test]
    fn writes_a_png_with_the_points() {
        let margins: Vec<QueryMargins> = (0..7)
            .map(|j| {
                let predicted: Vec<f64> = (0..20).map(|m| (m * (j + 1)) as f64 * 0.1).collect();
                let actual: Vec<f64> = predicted
                    .iter()
                    .enumerate()
                    .map(|(m, p)| p + if m % 3 == 0 { 0.5 } else { -0.2 })
                    .collect();
                QueryMargins {
                    lds: j as f64 / 7.0,
                    predicted,
                    actual,
                }
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/margins.png");
        margins_png(&report(margins), "test", &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height.
        assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), WIDTH);
        assert_eq!(
            u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
            HEIGHT
        );
    }

    #[test]
    fn no_queries_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(margins_png(&report(vec![]), "t", &dir.path().join("x.png")).is_err());
    }

    #[test]
    fn median_and_fit() {
        let q = |lds| QueryMargins {
            predicted: vec![],
            actual: vec![],
            lds,
        };
        let m = [q(0.9), q(0.1), q(0.5)];
        assert_eq!(median_query(&m).unwrap().lds, 0.5);
        let (a, b) = fit(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0]).unwrap();
        assert!((a - 1.0).abs() < 1e-12 && (b - 2.0).abs() < 1e-12);
        assert!(fit(&[1.0, 1.0], &[0.0, 1.0]).is_none());
        assert_eq!(standardise(&[2.0, 2.0]), vec![0.0, 0.0]);
    }
}
