//! Figures with plotters, as SVG text and PNG files: the paper's Figure 4
//! (each fold's ROC, the mean ROC with a ±1 SD band, the chance diagonal),
//! a grid of those panels for all models, a test-set ROC with its DeLong
//! CI, and a calibration (reliability) plot; and the exploration figures
//! (histograms, box and violin plots, scatter plots, heatmaps), whose
//! numbers come from `render::explore`. PNG text uses DejaVu Sans
//! compiled into the binary, so no system fonts are needed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::explore;

use crate::core::learn::metrics::{ReliabilityBin, Roc, mean_roc, trapezoid};
use crate::error::{Error, Result};

/// One model's cross-validation ROC data.
#[derive(Debug, Clone)]
pub struct CvPanel {
    pub model: String,
    /// Each fold's ROC curve and AUC.
    pub folds: Vec<(Roc, f64)>,
}

/// One model's test-set ROC.
#[derive(Debug, Clone)]
pub struct TestPanel {
    pub model: String,
    pub roc: Roc,
    pub auc: f64,
    pub ci: (f64, f64),
}

/// One epoch of one fold's training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    /// 1-based.
    pub epoch: usize,
    pub train_loss: f64,
    pub val_loss: f64,
    pub val_auc: f64,
}

/// One model's learning curves: every fold's per-epoch training loss,
/// held-out loss and held-out AUC.
#[derive(Debug, Clone)]
pub struct CurvePanel {
    pub model: String,
    pub folds: Vec<Vec<CurvePoint>>,
}

impl CurvePanel {
    /// Mean over the folds that reached each epoch: (epoch, train loss,
    /// held-out loss, held-out AUC).
    pub fn mean(&self) -> Vec<(usize, f64, f64, f64)> {
        let last = self.folds.iter().flat_map(|f| f.iter().map(|p| p.epoch)).max().unwrap_or(0);
        (1..=last)
            .filter_map(|e| {
                let at: Vec<&CurvePoint> = self.folds.iter().filter_map(|f| f.iter().find(|p| p.epoch == e)).collect();
                let m = |g: fn(&CurvePoint) -> f64| mean(&at.iter().map(|p| g(p)).collect::<Vec<_>>());
                (!at.is_empty()).then(|| (e, m(|p| p.train_loss), m(|p| p.val_loss), m(|p| p.val_auc)))
            })
            .collect()
    }
}

/// Values of one group (a level of the `--by` column, or "all").
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Group {
    pub label: String,
    /// NaN marks a missing value; it is skipped (and counted in the legend).
    pub values: Vec<f64>,
}

/// A figure's content.
#[derive(Debug, Clone)]
pub enum Figure {
    CvRoc(CvPanel),
    CvGrid(Vec<CvPanel>),
    TestRoc(TestPanel),
    Calibration {
        model: String,
        bins: Vec<ReliabilityBin>,
        intercept: f64,
        slope: f64,
    },
    /// Learning curves: loss (training and held-out) and held-out AUC by epoch.
    Curves(CurvePanel),
    /// Several runs' ROC curves overlaid (each from its pooled predictions),
    /// one colour per run.
    RocOverlay {
        title: String,
        /// (label, curve, AUC) per run.
        curves: Vec<(String, Roc, f64)>,
    },
    /// Several runs' held-out AUC by epoch overlaid: each run's mean over
    /// its folds.
    CurvesOverlay {
        title: String,
        /// (label, (epoch, mean held-out AUC) per epoch) per run.
        runs: Vec<(String, Vec<(usize, f64)>)>,
    },
    /// Cumulative dose-volume histograms, one line per structure: the
    /// percentage of its volume (y) receiving at least each dose (x, Gy).
    Dvh {
        title: String,
        curves: Vec<(String, Vec<(f64, f64)>)>,
    },
    /// The leakage audit: each fold's AUC in the fold-safe and the LEAKY arm.
    AuditFolds {
        model: String,
        safe: Vec<f64>,
        leaky: Vec<f64>,
    },
    /// One column's histogram per group, overlaid semi-transparent on
    /// `bins` equal-width bins shared by all groups (numpy's rule); y is
    /// the count.
    Histogram {
        title: String,
        column: String,
        groups: Vec<Group>,
        bins: usize,
    },
    /// For each feature a cluster of box plots (or violins), one per group
    /// coloured by group: `values[feature][group]`. Boxes as matplotlib's
    /// (quartiles, whiskers within 1.5 IQR, outliers beyond); violins are
    /// Gaussian KDEs with Scott's bandwidth, the median marked.
    Distribution {
        title: String,
        features: Vec<String>,
        groups: Vec<String>,
        values: Vec<Vec<Vec<f64>>>,
        violin: bool,
        y_label: String,
    },
    /// Points coloured by group; a point missing either coordinate is skipped.
    Scatter {
        title: String,
        x: String,
        y: String,
        groups: Vec<(String, Vec<(f64, f64)>)>,
    },
    /// A square matrix (`values[row][column]`, e.g. correlations) on a
    /// blue–white–red scale from `lo` to `hi`, with a colour bar; NaN cells
    /// grey; row and column names when there are at most
    /// [`HEATMAP_NAMED_MAX`], index ticks otherwise.
    Heatmap {
        title: String,
        labels: Vec<String>,
        values: Vec<Vec<f64>>,
        lo: f64,
        hi: f64,
    },
}

/// The most rows a heatmap names; a larger one shows index ticks.
pub const HEATMAP_NAMED_MAX: usize = 40;

const FOLD_COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(57, 59, 121),
];
const MEAN_RED: RGBColor = RGBColor(214, 39, 40);

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::invalid(format!("drawing a figure: {e}"), None)
}

impl Figure {
    /// Pixel size.
    pub fn size(&self) -> (u32, u32) {
        match self {
            Figure::CvGrid(p) => (4 * 420, p.len().div_ceil(4).max(1) as u32 * 440),
            Figure::Curves(_) => (1100, 460),
            Figure::CurvesOverlay { .. } => (720, 460),
            Figure::Dvh { .. } => (760, 500),
            Figure::Histogram { .. } => (720, 520),
            Figure::Scatter { .. } => (660, 600),
            Figure::Distribution { features, groups, .. } => CategoryAxis::new(features, groups.len()).size(),
            Figure::Heatmap { labels, .. } => HeatmapLayout::new(labels).size(),
            _ => (620, 600),
        }
    }

    /// The figure as SVG text.
    pub fn svg(&self) -> Result<String> {
        register_font();
        let mut s = String::new();
        {
            let root = SVGBackend::with_string(&mut s, self.size()).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(err)?;
        }
        Ok(s)
    }

    /// Writes the figure as a PNG file.
    pub fn png(&self, path: &Path) -> Result<()> {
        register_font();
        crate::provenance::write_atomic_via(path, |tmp| {
            let root = BitMapBackend::new(tmp, self.size()).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(err)
        })
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(err)?;
        match self {
            Figure::CvRoc(p) => cv_panel(root, p, 15),
            Figure::CvGrid(panels) => {
                let rows = panels.len().div_ceil(4).max(1);
                let areas = root.split_evenly((rows, 4));
                for (area, p) in areas.iter().zip(panels) {
                    cv_panel(area, p, 11)?;
                }
                Ok(())
            }
            Figure::TestRoc(p) => test_panel(root, p),
            Figure::Calibration { model, bins, intercept, slope } => {
                calibration_panel(root, model, bins, *intercept, *slope)
            }
            Figure::AuditFolds { model, safe, leaky } => audit_panel(root, model, safe, leaky),
            Figure::Curves(p) => curves_panel(root, p),
            Figure::RocOverlay { title, curves } => roc_overlay_panel(root, title, curves),
            Figure::CurvesOverlay { title, runs } => curves_overlay_panel(root, title, runs),
            Figure::Dvh { title, curves } => dvh_panel(root, title, curves),
            Figure::Histogram { title, column, groups, bins } => histogram_panel(root, title, column, groups, *bins),
            Figure::Distribution { title, features, groups, values, violin, y_label } => {
                distribution_panel(root, title, features, groups, values, *violin, y_label)
            }
            Figure::Scatter { title, x, y, groups } => scatter_panel(root, title, x, y, groups),
            Figure::Heatmap { title, labels, values, lo, hi } => heatmap_panel(root, title, labels, values, (*lo, *hi)),
        }
    }

    /// An exploration figure's data as JSON, for a command to keep beside
    /// the SVG (a notebook replay compares it); NaN is written as null.
    /// `None` for the run figures, whose data their commands assemble.
    pub fn explore_data(&self) -> Option<serde_json::Value> {
        use serde_json::json;
        Some(match self {
            Figure::Histogram { title, column, groups, bins } => {
                json!({ "kind": "histogram", "title": title, "column": column, "groups": groups, "bins": bins })
            }
            Figure::Distribution { title, features, groups, values, violin, y_label } => json!({
                "kind": if *violin { "violin" } else { "box" }, "title": title, "features": features,
                "groups": groups, "values": values, "y_label": y_label,
            }),
            Figure::Scatter { title, x, y, groups } => {
                json!({ "kind": "scatter", "title": title, "x": x, "y": y, "groups": groups })
            }
            Figure::Dvh { title, curves } => json!({ "kind": "dvh", "title": title, "curves": curves }),
            Figure::Heatmap { title, labels, values, lo, hi } => {
                json!({ "kind": "heatmap", "title": title, "labels": labels, "values": values, "lo": lo, "hi": hi })
            }
            _ => return None,
        })
    }
}

fn axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    font: u32,
    x: &str,
    y: &str,
) -> Result<
    ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>,
> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", font + 3).into_font().style(FontStyle::Bold))
        .margin(12)
        .x_label_area_size(font * 3)
        .y_label_area_size(font * 4)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x)
        .y_desc(y)
        .x_labels(6)
        .y_labels(6)
        .label_style(("sans-serif", font))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

fn chance<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
) -> Result<()> {
    let grey = ShapeStyle::from(&RGBColor(120, 120, 120)).stroke_width(1);
    chart
        .draw_series(DashedLineSeries::new(vec![(0.0, 0.0), (1.0, 1.0)], 6, 4, grey))
        .map_err(err)?
        .label("chance")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], grey));
    Ok(())
}

fn cv_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &CvPanel, font: u32) -> Result<()> {
    let mut chart = axes(
        area,
        &if font < 13 { p.model.clone() } else { format!("{} — cross-validation ROC", p.model) },
        font,
        "False positive rate (1 − specificity)",
        "True positive rate (sensitivity)",
    )?;
    let rocs: Vec<Roc> = p.folds.iter().map(|(r, _)| r.clone()).collect();
    if rocs.is_empty() {
        return Ok(());
    }
    let (grid, mean, sd) = mean_roc(&rocs, 101);
    // ±1 SD band, clipped to [0, 1].
    let upper: Vec<(f64, f64)> =
        grid.iter().zip(mean.iter().zip(&sd)).map(|(x, (m, s))| (*x, (m + s).min(1.0))).collect();
    let lower: Vec<(f64, f64)> =
        grid.iter().zip(mean.iter().zip(&sd)).map(|(x, (m, s))| (*x, (m - s).max(0.0))).rev().collect();
    let band: Vec<(f64, f64)> = upper.into_iter().chain(lower).collect();
    let band_style = RGBColor(150, 150, 150).mix(0.25);
    chart
        .draw_series(std::iter::once(Polygon::new(band, band_style.filled())))
        .map_err(err)?
        .label("± 1 SD of the fold curves")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], band_style.filled()));
    for (k, (roc, auc)) in p.folds.iter().enumerate() {
        let c = FOLD_COLOURS[k % FOLD_COLOURS.len()];
        let style = ShapeStyle::from(&c.mix(0.75)).stroke_width(1);
        chart
            .draw_series(LineSeries::new(roc.fpr.iter().copied().zip(roc.tpr.iter().copied()), style))
            .map_err(err)?
            .label(format!("fold {} (AUC {auc:.2})", k + 1))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    chance(&mut chart)?;
    let aucs: Vec<f64> = p.folds.iter().map(|(_, a)| *a).collect();
    let (m, s) = crate::core::describe::mean_sd_finite(&aucs);
    let s = if s.is_finite() { s } else { 0.0 };
    let red = ShapeStyle::from(&MEAN_RED).stroke_width(3);
    chart
        .draw_series(LineSeries::new(grid.iter().copied().zip(mean.iter().copied()), red))
        .map_err(err)?
        .label(format!("mean ROC: AUC of the mean curve {:.2}", trapezoid(&grid, &mean)))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], red));
    // An entry with no line: the fold-AUC summary.
    chart
        .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
        .map_err(err)?
        .label(format!("mean ± SD of fold AUCs {m:.2} ± {s:.2}"))
        .legend(|(x, y)| EmptyElement::at((x, y)));
    legend(&mut chart, SeriesLabelPosition::LowerRight, font.saturating_sub(2).max(8))
}

fn test_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &TestPanel) -> Result<()> {
    let mut chart = axes(
        area,
        &format!("{} — test-set ROC", p.model),
        15,
        "False positive rate (1 − specificity)",
        "True positive rate (sensitivity)",
    )?;
    chance(&mut chart)?;
    let style = ShapeStyle::from(&MEAN_RED).stroke_width(3);
    chart
        .draw_series(LineSeries::new(p.roc.fpr.iter().copied().zip(p.roc.tpr.iter().copied()), style))
        .map_err(err)?
        .label(format!("AUC {:.2} (95% CI {:.2}–{:.2}, DeLong)", p.auc, p.ci.0, p.ci.1))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    legend(&mut chart, SeriesLabelPosition::LowerRight, 13)
}

fn calibration_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    model: &str,
    bins: &[ReliabilityBin],
    intercept: f64,
    slope: f64,
) -> Result<()> {
    let mut chart = axes(
        area,
        &format!("{model} — calibration"),
        15,
        "Mean predicted probability",
        "Observed fraction with the outcome",
    )?;
    let grey = ShapeStyle::from(&RGBColor(120, 120, 120)).stroke_width(1);
    chart
        .draw_series(DashedLineSeries::new(vec![(0.0, 0.0), (1.0, 1.0)], 6, 4, grey))
        .map_err(err)?
        .label("perfect calibration")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], grey));
    let blue = ShapeStyle::from(&FOLD_COLOURS[0]).stroke_width(2);
    let pts: Vec<(f64, f64)> = bins.iter().map(|b| (b.mean_predicted, b.fraction_positive)).collect();
    chart
        .draw_series(LineSeries::new(pts.clone(), blue))
        .map_err(err)?
        .label(format!("reliability (intercept {intercept:.2}, slope {slope:.2})"))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], blue));
    chart
        .draw_series(bins.iter().map(|b| {
            let r = (3.0 + (b.count as f64).sqrt()).min(12.0) as i32;
            Circle::new((b.mean_predicted, b.fraction_positive), r, FOLD_COLOURS[0].filled())
        }))
        .map_err(err)?;
    legend(&mut chart, SeriesLabelPosition::UpperLeft, 13)
}

fn audit_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    model: &str,
    safe: &[f64],
    leaky: &[f64],
) -> Result<()> {
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{model} — fold AUC: fold-safe vs LEAKY"),
            ("sans-serif", 17).into_font().style(FontStyle::Bold),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("fold AUC")
        .label_style(("sans-serif", 14))
        .light_line_style(RGBColor(235, 235, 235))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()
        .map_err(err)?;
    let grey = ShapeStyle::from(&RGBColor(120, 120, 120)).stroke_width(1);
    chart.draw_series(DashedLineSeries::new(vec![(0.0, 0.5), (1.0, 0.5)], 6, 4, grey)).map_err(err)?;
    for (a, b) in safe.iter().zip(leaky) {
        chart
            .draw_series(LineSeries::new(vec![(0.3, *a), (0.7, *b)], RGBColor(190, 190, 190).stroke_width(1)))
            .map_err(err)?;
    }
    let blue = FOLD_COLOURS[0];
    chart
        .draw_series(safe.iter().map(|a| Circle::new((0.3, *a), 5, blue.filled())))
        .map_err(err)?
        .label(format!("fold-safe (every step inside the training fold), mean {:.2}", mean(safe)))
        .legend(move |(x, y)| Circle::new((x + 8, y), 5, blue.filled()));
    chart
        .draw_series(leaky.iter().map(|a| Circle::new((0.7, *a), 5, MEAN_RED.filled())))
        .map_err(err)?
        .label(format!("LEAKY (steps fitted on all patients first), mean {:.2}", mean(leaky)))
        .legend(|(x, y)| Circle::new((x + 8, y), 5, MEAN_RED.filled()));
    legend(&mut chart, SeriesLabelPosition::LowerRight, 13)
}

/// Held-out loss above this is drawn at the top edge (an overfit fold's
/// loss would otherwise flatten everything else).
const LOSS_CEILING: f64 = 2.0;

fn curves_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &CurvePanel) -> Result<()> {
    let [left, right] = {
        let (a, b) = area.split_horizontally(area.dim_in_pixel().0 / 2);
        [a, b]
    };
    let means = p.mean();
    let epochs = means.last().map_or(1, |m| m.0).max(1) as f64;
    let top = p
        .folds
        .iter()
        .flatten()
        .flat_map(|q| [q.train_loss, q.val_loss])
        .filter(|v| v.is_finite())
        .fold(0.8f64, f64::max)
        .min(LOSS_CEILING);
    let faint = |k: usize| FOLD_COLOURS[k % FOLD_COLOURS.len()].mix(0.45);
    // Left: losses.
    let mut chart = epoch_axes(&left, &format!("{} — loss", p.model), epochs, 0.0..top * 1.05, "binary cross-entropy")?;
    let clip = |v: f64| v.min(top * 1.05);
    for (k, fold) in p.folds.iter().enumerate() {
        let style = ShapeStyle::from(&faint(k)).stroke_width(1);
        chart
            .draw_series(DashedLineSeries::new(fold.iter().map(|q| (q.epoch as f64, clip(q.val_loss))), 4, 3, style))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(fold.iter().map(|q| (q.epoch as f64, clip(q.train_loss))), style))
            .map_err(err)?;
    }
    let blue = ShapeStyle::from(&FOLD_COLOURS[0]).stroke_width(3);
    let red = ShapeStyle::from(&MEAN_RED).stroke_width(3);
    chart
        .draw_series(LineSeries::new(means.iter().map(|m| (m.0 as f64, clip(m.1))), blue))
        .map_err(err)?
        .label("training loss (mean; thin: folds)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], blue));
    chart
        .draw_series(DashedLineSeries::new(means.iter().map(|m| (m.0 as f64, clip(m.2))), 6, 3, red))
        .map_err(err)?
        .label("held-out loss (mean; thin dashed: folds)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], red));
    let grey = ShapeStyle::from(&RGBColor(120, 120, 120)).stroke_width(1);
    chart
        .draw_series(DashedLineSeries::new(
            vec![(1.0, std::f64::consts::LN_2), (epochs, std::f64::consts::LN_2)],
            6,
            4,
            grey,
        ))
        .map_err(err)?
        .label("ln 2 (a constant 0.5)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], grey));
    legend(&mut chart, SeriesLabelPosition::LowerLeft, 12)?;
    // Right: held-out AUC.
    let mut chart =
        epoch_axes(&right, &format!("{} — held-out AUC", p.model), epochs, 0.0..1.0, "AUC of the held-out fold")?;
    for (k, fold) in p.folds.iter().enumerate() {
        let style = ShapeStyle::from(&faint(k)).stroke_width(1);
        chart
            .draw_series(LineSeries::new(
                fold.iter().filter(|q| q.val_auc.is_finite()).map(|q| (q.epoch as f64, q.val_auc)),
                style,
            ))
            .map_err(err)?
            .label(format!("fold {}", k + 1))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    chart.draw_series(DashedLineSeries::new(vec![(1.0, 0.5), (epochs, 0.5)], 6, 4, grey)).map_err(err)?;
    let best = means.iter().filter(|m| m.3.is_finite()).max_by(|a, b| a.3.total_cmp(&b.3)).copied();
    chart
        .draw_series(LineSeries::new(means.iter().filter(|m| m.3.is_finite()).map(|m| (m.0 as f64, m.3)), red))
        .map_err(err)?
        .label(match (best, means.last()) {
            (Some(b), Some(l)) => format!("mean: {:.2} at the last epoch, highest {:.2} (epoch {})", l.3, b.3, b.0),
            _ => "mean".to_string(),
        })
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], red));
    legend(&mut chart, SeriesLabelPosition::LowerRight, 12)
}

fn roc_overlay_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    curves: &[(String, Roc, f64)],
) -> Result<()> {
    let mut chart = axes(area, title, 15, "False positive rate (1 − specificity)", "True positive rate (sensitivity)")?;
    chance(&mut chart)?;
    for (k, (label, roc, auc)) in curves.iter().enumerate() {
        let style = ShapeStyle::from(&FOLD_COLOURS[k % FOLD_COLOURS.len()]).stroke_width(2);
        chart
            .draw_series(LineSeries::new(roc.fpr.iter().copied().zip(roc.tpr.iter().copied()), style))
            .map_err(err)?
            .label(format!("{label} (AUC {auc:.2})"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight, 13)
}

fn curves_overlay_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    runs: &[(String, Vec<(usize, f64)>)],
) -> Result<()> {
    let epochs = runs.iter().flat_map(|(_, v)| v.iter().map(|p| p.0)).max().unwrap_or(1).max(1) as f64;
    let mut chart = epoch_axes(area, title, epochs, 0.0..1.0, "held-out AUC (mean over folds)")?;
    let grey = ShapeStyle::from(&RGBColor(120, 120, 120)).stroke_width(1);
    chart.draw_series(DashedLineSeries::new(vec![(1.0, 0.5), (epochs, 0.5)], 6, 4, grey)).map_err(err)?;
    for (k, (label, points)) in runs.iter().enumerate() {
        let style = ShapeStyle::from(&FOLD_COLOURS[k % FOLD_COLOURS.len()]).stroke_width(2);
        chart
            .draw_series(LineSeries::new(points.iter().filter(|p| p.1.is_finite()).map(|p| (p.0 as f64, p.1)), style))
            .map_err(err)?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight, 12)
}

fn dvh_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    curves: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    let top = curves.iter().flat_map(|(_, c)| c.iter().map(|p| p.0)).fold(0.0, f64::max);
    let x_max = if top > 0.0 { top * 1.02 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16).into_font().style(FontStyle::Bold))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0f64..x_max, 0f64..102f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("dose (Gy)")
        .y_desc("volume (%)")
        .x_labels(8)
        .y_labels(6)
        .label_style(("sans-serif", 13))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(err)?;
    for (k, (label, points)) in curves.iter().enumerate() {
        let style = ShapeStyle::from(&FOLD_COLOURS[k % FOLD_COLOURS.len()]).stroke_width(2);
        // Steps: each level holds until the next dose.
        let mut steps = Vec::with_capacity(points.len() * 2);
        for (i, p) in points.iter().enumerate() {
            if i > 0 {
                steps.push((p.0, points[i - 1].1));
            }
            steps.push(*p);
        }
        chart
            .draw_series(LineSeries::new(steps, style))
            .map_err(err)?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight, 12)
}

fn epoch_axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    epochs: f64,
    y: std::ops::Range<f64>,
    y_desc: &str,
) -> Result<Chart<'a, DB>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16).into_font().style(FontStyle::Bold))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(1f64..epochs.max(2.0), y)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .x_labels(8)
        .y_labels(6)
        .label_style(("sans-serif", 13))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

fn mean(v: &[f64]) -> f64 {
    crate::core::describe::mean_sd_finite(v).0
}

type Chart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>;

/// Every figure's legend: a light box at `position`.
fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    position: SeriesLabelPosition,
    font: u32,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font(("sans-serif", font))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(180, 180, 180))
        .draw()
        .map_err(err)
}

// ---- Exploration figures ------------------------------------------------

/// The colour of group `k` (the fold colours, repeating after ten).
fn group_colour(k: usize) -> RGBColor {
    FOLD_COLOURS[k % FOLD_COLOURS.len()]
}

/// A NaN heatmap cell.
const MISSING_GREY: RGBColor = RGBColor(170, 170, 170);
/// Dark grey for text, medians and a violin's inner box.
const INK: RGBColor = RGBColor(40, 40, 40);

/// Text of `size` pixels, anchored at `pos`.
fn text_style(size: u32, pos: Pos) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&INK).pos(pos)
}

/// How wide `text` is at `size` pixels, as the embedded font lays it out
/// (half an em a character if it cannot).
fn text_px(text: &str, size: u32) -> u32 {
    register_font();
    ("sans-serif", size)
        .into_font()
        .box_size(text)
        .map_or_else(|_| (text.chars().count() as f64 * f64::from(size) * 0.5).ceil() as u32, |(w, _)| w)
}

/// A group's legend entry: its label, how many values it has, and how many
/// were missing.
fn group_label(label: &str, values: &[f64]) -> String {
    let n = explore::finite(values).len();
    match values.len() - n {
        0 => format!("{label} (n = {n})"),
        missing => format!("{label} (n = {n}, {missing} missing)"),
    }
}

/// Axes over data ranges: what the histogram, scatter and distribution
/// panels share.
struct DataAxes<'s> {
    title: &'s str,
    x: (f64, f64),
    y: (f64, f64),
    x_desc: &'s str,
    y_desc: &'s str,
    /// Height of the area under the x axis.
    x_label_px: u32,
    /// Numbered x ticks (false: the caller names categories itself).
    x_ticks: bool,
    /// Whole-number y ticks (counts).
    y_counts: bool,
}

fn data_axes<'a, DB: DrawingBackend>(area: &'a DrawingArea<DB, Shift>, a: &DataAxes<'_>) -> Result<Chart<'a, DB>> {
    let mut chart = ChartBuilder::on(area)
        .caption(a.title, ("sans-serif", 18).into_font().style(FontStyle::Bold))
        .margin(12)
        .x_label_area_size(a.x_label_px)
        .y_label_area_size(64)
        .build_cartesian_2d(a.x.0..a.x.1, a.y.0..a.y.1)
        .map_err(err)?;
    let (x_span, y_span) = (a.x.1 - a.x.0, a.y.1 - a.y.0);
    let x_tick = |v: &f64| explore::tick_label(*v, x_span);
    let y_tick = |v: &f64| if a.y_counts { format!("{v:.0}") } else { explore::tick_label(*v, y_span) };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(a.x_desc)
        .y_desc(a.y_desc)
        .x_labels(if a.x_ticks { 7 } else { 0 })
        .y_labels(6)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(220, 220, 220))
        .x_label_formatter(&x_tick)
        .y_label_formatter(&y_tick);
    if !a.x_ticks {
        mesh.disable_x_mesh();
    }
    mesh.draw().map_err(err)?;
    Ok(chart)
}

/// Says so in the middle of a panel with nothing to draw.
fn no_values<DB: DrawingBackend>(chart: &mut Chart<'_, DB>) -> Result<()> {
    let (x, y) = (chart.x_range(), chart.y_range());
    let centre = ((x.start + x.end) / 2.0, (y.start + y.end) / 2.0);
    let style = text_style(15, Pos::new(HPos::Center, VPos::Center));
    chart.draw_series(std::iter::once(Text::new("no values to draw", centre, style))).map_err(err)?;
    Ok(())
}

/// Draws `text` where `chart` puts `at`, moved by `offset` pixels, on the
/// panel `area` the chart was built on.
fn text_at<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart<'_, DB>,
    at: (f64, f64),
    offset: (i32, i32),
    text: &str,
    style: &TextStyle<'_>,
) -> Result<()> {
    let (x, y) = chart.backend_coord(&at);
    let (bx, by) = area.get_base_pixel();
    area.draw(&Text::new(text.to_string(), (x - bx + offset.0, y - by + offset.1), style.clone())).map_err(err)
}

fn histogram_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    column: &str,
    groups: &[Group],
    bins: usize,
) -> Result<()> {
    let pooled: Vec<f64> = groups.iter().flat_map(|g| explore::finite(&g.values)).collect();
    let edges = explore::bin_edges(&pooled, bins);
    let counts: Vec<Vec<usize>> = groups.iter().map(|g| explore::histogram(&g.values, &edges)).collect();
    let tallest = counts.iter().flatten().copied().max().unwrap_or(0);
    let (lo, hi) = (edges[0], edges[edges.len() - 1]);
    let pad = 0.02 * (hi - lo);
    let mut chart = data_axes(
        area,
        &DataAxes {
            title,
            x: (lo - pad, hi + pad),
            // At least 0..5, so count ticks fall on whole numbers.
            y: (0.0, (tallest as f64 * 1.08).max(5.0)),
            x_desc: column,
            y_desc: "count",
            x_label_px: 42,
            x_ticks: true,
            y_counts: true,
        },
    )?;
    if pooled.is_empty() {
        return no_values(&mut chart);
    }
    for (k, (group, counts)) in groups.iter().zip(&counts).enumerate() {
        let fill = group_colour(k).mix(0.45).filled();
        chart
            .draw_series(
                counts
                    .iter()
                    .enumerate()
                    .map(|(i, n)| Rectangle::new([(edges[i], *n as f64), (edges[i + 1], 0.0)], fill)),
            )
            .map_err(err)?
            .label(group_label(&group.label, &group.values))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], fill));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight, 12)
}

fn scatter_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    groups: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    let points: Vec<Vec<(f64, f64)>> = groups
        .iter()
        .map(|(_, p)| p.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect())
        .collect();
    let x = explore::axis_range(points.iter().flatten().map(|p| p.0));
    let y = explore::axis_range(points.iter().flatten().map(|p| p.1));
    let axes = DataAxes { title, x, y, x_desc, y_desc, x_label_px: 42, x_ticks: true, y_counts: false };
    let mut chart = data_axes(area, &axes)?;
    if points.iter().all(Vec::is_empty) {
        return no_values(&mut chart);
    }
    for (k, ((label, given), shown)) in groups.iter().zip(&points).enumerate() {
        let dot = group_colour(k).mix(0.75).filled();
        let missing = given.len() - shown.len();
        chart
            .draw_series(shown.iter().map(|p| Circle::new(*p, 3, dot)))
            .map_err(err)?
            .label(match missing {
                0 => format!("{label} (n = {})", shown.len()),
                m => format!("{label} (n = {}, {m} missing)", shown.len()),
            })
            .legend(move |(x, y)| Circle::new((x + 9, y), 4, dot));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight, 12)
}

/// How a distribution figure names its features under the x axis: as they
/// are when every name fits its slot, otherwise abbreviated and rotated.
struct CategoryAxis {
    names: Vec<String>,
    rotated: bool,
    /// Height of the area under the axis.
    label_px: u32,
    width: u32,
}

impl CategoryAxis {
    const FONT: u32 = 12;
    /// Pixels around the plot: the y axis, its labels and the margins.
    const FRAME: u32 = 110;
    /// Longest rotated name.
    const ROTATED_CHARS: usize = 28;

    fn new(features: &[String], groups: usize) -> Self {
        let slots = features.len().max(1) as u32;
        let slot = (groups.max(1) as u32 * 28).max(48);
        let width = (slots * slot).clamp(500, 2300) + Self::FRAME;
        let slot_px = (width - Self::FRAME) / slots;
        if features.iter().all(|f| text_px(f, Self::FONT) + 8 <= slot_px) {
            return Self { names: features.to_vec(), rotated: false, label_px: 34, width };
        }
        let names: Vec<String> = features.iter().map(|f| explore::abbreviate(f, Self::ROTATED_CHARS)).collect();
        let longest = names.iter().map(|n| text_px(n, Self::FONT)).max().unwrap_or(0);
        Self { names, rotated: true, label_px: longest + 16, width }
    }

    fn size(&self) -> (u32, u32) {
        (self.width, 500 + self.label_px)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, chart: &Chart<'_, DB>) -> Result<()> {
        let bottom = chart.y_range().start;
        let style = if self.rotated {
            text_style(Self::FONT, Pos::new(HPos::Right, VPos::Center)).transform(FontTransform::Rotate270)
        } else {
            text_style(Self::FONT, Pos::new(HPos::Center, VPos::Top))
        };
        for (f, name) in self.names.iter().enumerate() {
            text_at(area, chart, (f as f64, bottom), (0, 6), name, &style)?;
        }
        Ok(())
    }
}

fn distribution_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    features: &[String],
    groups: &[String],
    values: &[Vec<Vec<f64>>],
    violin: bool,
    y_label: &str,
) -> Result<()> {
    let cell = |f: usize, g: usize| values.get(f).and_then(|v| v.get(g)).map_or(&[][..], Vec::as_slice);
    let cells = || (0..features.len()).flat_map(move |f| (0..groups.len()).map(move |g| (f, g)));
    let names = CategoryAxis::new(features, groups.len());
    let y = explore::axis_range(cells().flat_map(|(f, g)| cell(f, g).iter().copied()));
    let axes = DataAxes {
        title,
        x: (-0.5, features.len().max(1) as f64 - 0.5),
        y,
        x_desc: "",
        y_desc: y_label,
        x_label_px: names.label_px,
        x_ticks: false,
        y_counts: false,
    };
    let mut chart = data_axes(area, &axes)?;
    names.draw(area, &chart)?;
    if cells().all(|(f, g)| explore::finite(cell(f, g)).is_empty()) {
        return no_values(&mut chart);
    }
    // Each feature's slot is 1 wide; its groups share 0.8 of it.
    let slot = 0.8 / groups.len() as f64;
    for (g, group) in groups.iter().enumerate() {
        let colour = group_colour(g);
        for f in 0..features.len() {
            let centre = f as f64 - 0.4 + (g as f64 + 0.5) * slot;
            if violin {
                draw_violin(&mut chart, cell(f, g), centre, 0.45 * slot, colour)?;
            } else {
                draw_box(&mut chart, cell(f, g), centre, 0.35 * slot, colour)?;
            }
        }
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(err)?
            .label(group.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], colour.mix(0.6).filled()));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight, 12)
}

/// One box: the quartiles as a filled box with an outline, the median as a
/// dark line, whiskers with caps, and the outliers as open circles.
fn draw_box<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    values: &[f64],
    centre: f64,
    half: f64,
    colour: RGBColor,
) -> Result<()> {
    let Some(b) = explore::box_stats(values) else { return Ok(()) };
    let (left, right) = (centre - half, centre + half);
    let corners = [(left, b.q3), (right, b.q1)];
    chart
        .draw_series([
            Rectangle::new(corners, colour.mix(0.35).filled()),
            Rectangle::new(corners, colour.stroke_width(1)),
        ])
        .map_err(err)?;
    let line = colour.stroke_width(1);
    let cap = |v: f64| PathElement::new(vec![(centre - half / 2.0, v), (centre + half / 2.0, v)], line);
    chart
        .draw_series([
            PathElement::new(vec![(centre, b.q3), (centre, b.whisker_high)], line),
            PathElement::new(vec![(centre, b.q1), (centre, b.whisker_low)], line),
            cap(b.whisker_high),
            cap(b.whisker_low),
            PathElement::new(vec![(left, b.median), (right, b.median)], INK.stroke_width(2)),
        ])
        .map_err(err)?;
    chart.draw_series(b.outliers.iter().map(|v| Circle::new((centre, *v), 3, colour.stroke_width(1)))).map_err(err)?;
    Ok(())
}

/// One violin: the density mirrored about `centre`, its widest point
/// `half` either side, with the whiskers' span, the quartiles as a thick
/// line and the median as a white dot inside. Values without a density
/// (one value, or all alike) are a flat line.
fn draw_violin<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    values: &[f64],
    centre: f64,
    half: f64,
    colour: RGBColor,
) -> Result<()> {
    let Some(b) = explore::box_stats(values) else { return Ok(()) };
    match explore::violin_outline(values, 100) {
        Some(outline) => {
            let peak = outline.iter().map(|p| p.1).fold(f64::MIN_POSITIVE, f64::max);
            let right = outline.iter().map(|(v, d)| (centre + half * d / peak, *v));
            let left = outline.iter().rev().map(|(v, d)| (centre - half * d / peak, *v));
            let shape: Vec<(f64, f64)> = right.chain(left).collect();
            let closed: Vec<(f64, f64)> = shape.iter().chain(shape.first()).copied().collect();
            chart.draw_series(std::iter::once(Polygon::new(shape, colour.mix(0.35).filled()))).map_err(err)?;
            chart.draw_series(std::iter::once(PathElement::new(closed, colour.stroke_width(1)))).map_err(err)?;
        }
        None => {
            let flat = vec![(centre - half, b.median), (centre + half, b.median)];
            chart.draw_series(std::iter::once(PathElement::new(flat, colour.stroke_width(2)))).map_err(err)?;
        }
    }
    chart
        .draw_series([
            PathElement::new(vec![(centre, b.whisker_low), (centre, b.whisker_high)], INK.stroke_width(1)),
            PathElement::new(vec![(centre, b.q1), (centre, b.q3)], INK.stroke_width(4)),
        ])
        .map_err(err)?;
    chart.draw_series(std::iter::once(Circle::new((centre, b.median), 3, WHITE.filled()))).map_err(err)?;
    Ok(())
}

/// A heatmap's pixel layout: square cells in a square of `side` pixels,
/// `label_px` for the names left of and under it, a colour bar right of it.
struct HeatmapLayout {
    n: usize,
    named: bool,
    font: u32,
    label_px: u32,
    side: u32,
}

impl HeatmapLayout {
    const MARGIN: u32 = 14;
    const TITLE_PX: u32 = 36;
    const BAR_PX: u32 = 96;
    /// Longest name shown.
    const NAME_CHARS: usize = 28;

    fn new(labels: &[String]) -> Self {
        let n = labels.len();
        let named = n <= HEATMAP_NAMED_MAX;
        let font = if n <= 20 { 12 } else { 10 };
        let label_px = if named {
            labels.iter().map(|l| text_px(&explore::abbreviate(l, Self::NAME_CHARS), font)).max().unwrap_or(0) + 12
        } else {
            44
        };
        // About 24 pixels a cell, within 300..900 pixels.
        let side = (n as u32).saturating_mul(24).clamp(300, 900);
        Self { n, named, font, label_px, side }
    }

    fn size(&self) -> (u32, u32) {
        let w = 2 * Self::MARGIN + self.label_px + self.side + Self::BAR_PX;
        let h = Self::TITLE_PX + 2 * Self::MARGIN + self.side + self.label_px;
        (w, h)
    }

    /// The rows named: all of them, or every `step`-th (1-based) when
    /// there are too many to name.
    fn shown(&self, labels: &[String]) -> Vec<(usize, String)> {
        if self.named {
            return labels.iter().map(|l| explore::abbreviate(l, Self::NAME_CHARS)).enumerate().collect();
        }
        let step = [5, 10, 20, 25, 50, 100, 200, 250, 500, 1000]
            .into_iter()
            .find(|s| self.n / s <= 10)
            .unwrap_or(self.n.div_ceil(10).max(1));
        (step..=self.n).step_by(step).map(|k| (k - 1, k.to_string())).collect()
    }
}

/// The colour of `v` on a blue–white–red scale (ColorBrewer RdBu, blue at
/// `lo`); values beyond the range take the end colours.
fn diverging(v: f64, (lo, hi): (f64, f64)) -> RGBColor {
    const STOPS: [(u8, u8, u8); 11] = [
        (5, 48, 97),
        (33, 102, 172),
        (67, 147, 195),
        (146, 197, 222),
        (209, 229, 240),
        (247, 247, 247),
        (253, 219, 199),
        (244, 165, 130),
        (214, 96, 77),
        (178, 24, 43),
        (103, 0, 31),
    ];
    let t = ((v - lo) / (hi - lo)).clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let (a, b, f) = (STOPS[i], STOPS[i + 1], t - i as f64);
    let mix = |x: u8, y: u8| (f64::from(x) + f * (f64::from(y) - f64::from(x))).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The scale a heatmap uses: `lo..hi`, or a unit range about `lo` when the
/// range is empty or reversed.
fn colour_range(lo: f64, hi: f64) -> (f64, f64) {
    match (lo.is_finite(), hi.is_finite()) {
        (true, true) if hi > lo => (lo, hi),
        (true, _) => (lo - 0.5, lo + 0.5),
        _ => (-1.0, 1.0),
    }
}

fn heatmap_panel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    labels: &[String],
    values: &[Vec<f64>],
    (lo, hi): (f64, f64),
) -> Result<()> {
    let layout = HeatmapLayout::new(labels);
    let area = root.titled(title, ("sans-serif", 18).into_font().style(FontStyle::Bold)).map_err(err)?;
    let m = HeatmapLayout::MARGIN;
    let square = area.shrink((m, m), (layout.label_px + layout.side, layout.side + layout.label_px));
    let n = labels.len();
    let mut chart = ChartBuilder::on(&square)
        .y_label_area_size(layout.label_px)
        .x_label_area_size(layout.label_px)
        .build_cartesian_2d(0f64..n.max(1) as f64, 0f64..n.max(1) as f64)
        .map_err(err)?;
    if n == 0 {
        return no_values(&mut chart);
    }
    let scale = colour_range(lo, hi);
    let value = |i: usize, j: usize| values.get(i).and_then(|r| r.get(j)).copied().unwrap_or(f64::NAN);
    // Row i is drawn from the top.
    let top = |i: usize| (n - i) as f64;
    chart
        .draw_series((0..n).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| {
            let v = value(i, j);
            let colour = if v.is_nan() { MISSING_GREY } else { diverging(v, scale) };
            Rectangle::new([(j as f64, top(i)), (j as f64 + 1.0, top(i) - 1.0)], colour.filled())
        }))
        .map_err(err)?;
    let rows = text_style(layout.font, Pos::new(HPos::Right, VPos::Center));
    let columns = rows.transform(FontTransform::Rotate270);
    for (k, name) in layout.shown(labels) {
        text_at(&square, &chart, (0.0, top(k) - 0.5), (-5, 0), &name, &rows)?;
        text_at(&square, &chart, (k as f64 + 0.5, 0.0), (0, 5), &name, &columns)?;
    }
    colour_bar(root, &chart, scale)
}

/// The colour scale right of a heatmap, as tall as its cells, with five
/// values marked. Strips are polygons, so a heatmap's only coloured
/// rectangles are its cells.
fn colour_bar<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart<'_, DB>,
    scale: (f64, f64),
) -> Result<()> {
    const STRIPS: i32 = 64;
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let (bx, by) = root.get_base_pixel();
    let (left, right) = (xs.end - bx + 18, xs.end - bx + 36);
    let (upper, lower) = (ys.start - by, ys.end - by);
    let height = lower - upper;
    let y_at = |k: i32| lower - height * k / STRIPS;
    let span = scale.1 - scale.0;
    for k in 0..STRIPS {
        let v = scale.0 + span * (f64::from(k) + 0.5) / f64::from(STRIPS);
        let strip = vec![(left, y_at(k)), (right, y_at(k)), (right, y_at(k + 1)), (left, y_at(k + 1))];
        root.draw(&Polygon::new(strip, diverging(v, scale).filled())).map_err(err)?;
    }
    let edge = ShapeStyle::from(&RGBColor(120, 120, 120)).stroke_width(1);
    let frame = vec![(left, upper), (right, upper), (right, lower), (left, lower), (left, upper)];
    root.draw(&PathElement::new(frame, edge)).map_err(err)?;
    let style = text_style(12, Pos::new(HPos::Left, VPos::Center));
    for q in 0..=4 {
        let y = lower - height * q / 4;
        let v = scale.0 + span * f64::from(q) / 4.0;
        root.draw(&PathElement::new(vec![(right, y), (right + 4, y)], edge)).map_err(err)?;
        root.draw(&Text::new(explore::tick_label(v, span), (right + 7, y), style.clone())).map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::learn::metrics::roc_curve;

    fn panel() -> CvPanel {
        let t = [1u8, 0, 1, 0, 1, 0, 0, 1];
        let folds = (0..5)
            .map(|k| {
                let p: Vec<f64> =
                    (0..8).map(|i| ((i * 7 + k * 3) % 11) as f64 / 11.0 + 0.2 * f64::from(t[i])).collect();
                let r = roc_curve(&p, &t).unwrap();
                (r, crate::core::learn::metrics::auc(&p, &t))
            })
            .collect();
        CvPanel { model: "T1+Dose".into(), folds }
    }

    #[test]
    fn svg_is_xml_and_png_is_written() {
        let svg = Figure::CvRoc(panel()).svg().unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("AUC of the mean curve") && svg.contains("mean ± SD of fold AUCs"));
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("f.png");
        Figure::CvGrid(vec![panel(), panel(), panel()]).png(&png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }

    #[test]
    fn learning_curves_average_the_folds_that_reached_each_epoch() {
        let point = |epoch, v: f64| CurvePoint { epoch, train_loss: v, val_loss: 2.0 * v, val_auc: 0.5 + v / 10.0 };
        // The second fold stopped after two epochs (a cancelled fold).
        let p = CurvePanel {
            model: "M".into(),
            folds: vec![vec![point(1, 0.6), point(2, 0.4), point(3, 0.2)], vec![point(1, 0.8), point(2, 0.6)]],
        };
        let m = p.mean();
        assert_eq!(m.len(), 3);
        assert!((m[0].1 - 0.7).abs() < 1e-12 && (m[0].2 - 1.4).abs() < 1e-12 && (m[0].3 - 0.57).abs() < 1e-12);
        assert!((m[1].1 - 0.5).abs() < 1e-12);
        assert!((m[2].1 - 0.2).abs() < 1e-12, "epoch 3 is the first fold's alone");
        // A held-out loss far above the ceiling is clipped, not drawn off the chart.
        let mut wild = p.clone();
        wild.folds[0][2].val_loss = 40.0;
        let svg = Figure::Curves(wild).svg().unwrap();
        assert!(svg.contains("M — loss") && svg.contains("M — held-out AUC") && svg.contains("fold 2"));
        assert!(svg.contains("0.52 at the last epoch, highest 0.57 (epoch 1)"), "the legend names the best mean epoch");
    }
}
#[cfg(test)]
mod look {
    #[test]
    fn write_for_a_look() {
        let Some(dir) = std::env::var_os("FIG_DIR") else { return };
        let dir = std::path::PathBuf::from(dir);
        let p = super::tests_panel();
        super::Figure::CvRoc(p.clone()).png(&dir.join("cv.png")).unwrap();
        super::Figure::CvGrid(vec![p.clone(); 8]).png(&dir.join("grid.png")).unwrap();
    }
}
#[cfg(test)]
fn tests_panel() -> CvPanel {
    use crate::core::learn::metrics::{auc, roc_curve};
    let mut rng = crate::core::rng::Rng::new(2);
    let folds = (0..5)
        .map(|_| {
            let t: Vec<u8> = (0..20).map(|i| u8::from(i % 3 == 0)).collect();
            let p: Vec<f64> = t.iter().map(|&y| rng.normal() + 1.2 * f64::from(y)).collect();
            (roc_curve(&p, &t).unwrap(), auc(&p, &t))
        })
        .collect();
    CvPanel { model: "T1+T1C+T2+Dose".into(), folds }
}
