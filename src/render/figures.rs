//! Figures with plotters, as SVG text and PNG files: the paper's Figure 4
//! (each fold's ROC, the mean ROC with a ±1 SD band, the chance diagonal),
//! a grid of those panels for all models, a test-set ROC with its DeLong
//! CI, and a calibration (reliability) plot. PNG text uses DejaVu Sans
//! compiled into the binary, so no system fonts are needed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

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
    /// The leakage audit: each fold's AUC in the fold-safe and the LEAKY arm.
    AuditFolds {
        model: String,
        safe: Vec<f64>,
        leaky: Vec<f64>,
    },
}

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
        }
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
