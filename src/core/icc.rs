//! Intraclass correlation for reproducibility studies (test–retest scans,
//! several readers' segmentations): the six Shrout & Fleiss (1979) forms of
//! an n-subjects × k-raters matrix, with their F test and confidence
//! interval, computed as pingouin's `intraclass_corr` computes them (which
//! follows Shrout & Fleiss and McGraw & Wong 1996; pingouin calls ICC(2,·)
//! ICC(A,·) and ICC(3,·) ICC(C,·)).
//!
//! All forms come from one two-way ANOVA without replication: between
//! subjects (MSB, df n − 1), between raters (MSJ, df k − 1), residual (MSE,
//! df (n − 1)(k − 1)), and the one-way within-subject mean square MSW
//! (raters and residual pooled, df n(k − 1)).

use statrs::distribution::{ContinuousCDF, FisherSnedecor};

use crate::error::{Error, Result};

/// Which intraclass correlation (Shrout & Fleiss' numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum IccForm {
    /// ICC(1,1): one-way random effects, a single rating.
    Icc1,
    /// ICC(2,1): two-way random effects, absolute agreement, a single rating.
    Icc2,
    /// ICC(3,1): two-way mixed effects, consistency, a single rating.
    Icc3,
    /// ICC(1,k): one-way random effects, the mean of k ratings.
    Icc1k,
    /// ICC(2,k): two-way random effects, absolute agreement, the mean of k ratings.
    Icc2k,
    /// ICC(3,k): two-way mixed effects, consistency, the mean of k ratings.
    Icc3k,
}

impl IccForm {
    /// Every form, in pingouin's row order.
    pub const ALL: [IccForm; 6] =
        [IccForm::Icc1, IccForm::Icc2, IccForm::Icc3, IccForm::Icc1k, IccForm::Icc2k, IccForm::Icc3k];

    /// The form as papers write it: `ICC(2,1)`, `ICC(3,k)`.
    pub fn label(self) -> &'static str {
        match self {
            IccForm::Icc1 => "ICC(1,1)",
            IccForm::Icc2 => "ICC(2,1)",
            IccForm::Icc3 => "ICC(3,1)",
            IccForm::Icc1k => "ICC(1,k)",
            IccForm::Icc2k => "ICC(2,k)",
            IccForm::Icc3k => "ICC(3,k)",
        }
    }

    /// The mean of k ratings rather than a single rating.
    pub fn is_average(self) -> bool {
        matches!(self, IccForm::Icc1k | IccForm::Icc2k | IccForm::Icc3k)
    }
}

impl std::str::FromStr for IccForm {
    type Err = Error;

    /// Reads `1,1` `2,1` `3,1` `1,k` `2,k` `3,k`, the same written `ICC(2,1)`,
    /// `ICC2`, `ICC2k`, and McGraw & Wong's `A,1` / `C,k` (pingouin's
    /// names), all case-insensitively.
    fn from_str(text: &str) -> Result<IccForm> {
        let key: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
        let key = key.strip_prefix("icc").unwrap_or(&key);
        let key = key.trim_start_matches('(').trim_end_matches(')');
        let form = match key {
            "1,1" | "1" => IccForm::Icc1,
            "2,1" | "2" | "a,1" => IccForm::Icc2,
            "3,1" | "3" | "c,1" => IccForm::Icc3,
            "1,k" | "1k" => IccForm::Icc1k,
            "2,k" | "2k" | "a,k" => IccForm::Icc2k,
            "3,k" | "3k" | "c,k" => IccForm::Icc3k,
            _ => {
                return Err(Error::invalid(
                    format!("`{text}` is not an ICC form"),
                    Some("use 1,1  2,1  3,1  1,k  2,k  3,k (or ICC1 … ICC3k)"),
                ));
            }
        };
        Ok(form)
    }
}

/// One intraclass correlation with its F test (H0: ICC = 0) and interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Icc {
    pub icc: f64,
    pub f: f64,
    pub df1: f64,
    pub df2: f64,
    pub p: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// The mean squares every form is built from.
#[derive(Debug, Clone, Copy)]
struct MeanSquares {
    n: f64,
    k: f64,
    /// Between subjects.
    msb: f64,
    /// Within subjects (one-way: raters and residual pooled).
    msw: f64,
    /// Between raters.
    msj: f64,
    /// Residual of the two-way model.
    mse: f64,
}

/// The intraclass correlation `form` of `ratings` (one row per subject, one
/// column per rater, no missing values), with a `confidence` interval
/// (0.95 for pingouin's CI95).
///
/// Raters who agree exactly on every subject (a shape feature unchanged by
/// a perturbation) give ICC 1, F = ∞ and p = 0; the interval is then NaN,
/// as pingouin's is.
pub fn icc(ratings: &[Vec<f64>], form: IccForm, confidence: f64) -> Result<Icc> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(Error::invalid(format!("the confidence level must be in (0, 1), not {confidence}"), None));
    }
    let ms = mean_squares(ratings)?;
    let alpha = 1.0 - confidence;
    Ok(match form {
        IccForm::Icc1 | IccForm::Icc1k => one_way(&ms, form.is_average(), alpha),
        IccForm::Icc2 | IccForm::Icc2k => absolute_agreement(&ms, form.is_average(), alpha),
        IccForm::Icc3 | IccForm::Icc3k => consistency(&ms, form.is_average(), alpha),
    })
}

fn mean_squares(ratings: &[Vec<f64>]) -> Result<MeanSquares> {
    let n = ratings.len();
    let k = ratings.first().map_or(0, Vec::len);
    if n < 2 || k < 2 {
        return Err(Error::invalid(
            format!("an ICC needs at least 2 subjects and 2 raters; these ratings are {n} × {k}"),
            Some("rows are subjects, columns are raters (or repeated measurements)"),
        ));
    }
    if let Some(row) = ratings.iter().position(|r| r.len() != k) {
        return Err(Error::invalid(
            format!("subject {} has {} ratings, the first has {k}", row + 1, ratings[row].len()),
            Some("an ICC needs every subject rated by every rater; drop incomplete subjects first"),
        ));
    }
    for (row, values) in ratings.iter().enumerate() {
        if let Some(col) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(
                format!("subject {}, rater {}: rating {} is not a finite number", row + 1, col + 1, values[col]),
                Some("drop subjects with missing ratings first"),
            ));
        }
    }
    let (nf, kf) = (n as f64, k as f64);
    let grand = ratings.iter().flatten().sum::<f64>() / (nf * kf);
    let subject_means: Vec<f64> = ratings.iter().map(|r| r.iter().sum::<f64>() / kf).collect();
    let rater_means: Vec<f64> = (0..k).map(|c| ratings.iter().map(|r| r[c]).sum::<f64>() / nf).collect();
    let ss_total: f64 = ratings.iter().flatten().map(|v| (v - grand).powi(2)).sum();
    if ss_total == 0.0 {
        return Err(Error::invalid("every rating is the same value, so no ICC is defined", None));
    }
    let ss_subjects = kf * subject_means.iter().map(|m| (m - grand).powi(2)).sum::<f64>();
    let ss_raters = nf * rater_means.iter().map(|m| (m - grand).powi(2)).sum::<f64>();
    let ss_residual = ss_total - ss_subjects - ss_raters;
    Ok(MeanSquares {
        n: nf,
        k: kf,
        msb: ss_subjects / (nf - 1.0),
        msw: (ss_raters + ss_residual) / (nf * (kf - 1.0)),
        msj: ss_raters / (kf - 1.0),
        mse: ss_residual / ((nf - 1.0) * (kf - 1.0)),
    })
}

/// The upper `alpha`/2 point of F(d1, d2), NaN where the degrees of freedom
/// are not positive (a degenerate Satterthwaite approximation).
fn f_upper(alpha: f64, d1: f64, d2: f64) -> f64 {
    FisherSnedecor::new(d1, d2).map_or(f64::NAN, |d| d.inverse_cdf(1.0 - alpha / 2.0))
}

/// The right tail of F(d1, d2) at `f`.
fn f_sf(f: f64, d1: f64, d2: f64) -> f64 {
    FisherSnedecor::new(d1, d2).map_or(f64::NAN, |d| if f.is_nan() { f64::NAN } else { d.sf(f) })
}

/// An F-based interval (forms 1 and 3): the observed F divided and
/// multiplied by the F quantiles, mapped to the ICC scale.
fn f_interval(f: f64, k: f64, df1: f64, df2: f64, average: bool, alpha: f64) -> (f64, f64) {
    let low = f / f_upper(alpha, df1, df2);
    let high = f * f_upper(alpha, df2, df1);
    let to_icc = |fv: f64| if average { 1.0 - 1.0 / fv } else { (fv - 1.0) / (fv + (k - 1.0)) };
    (to_icc(low), to_icc(high))
}

fn one_way(ms: &MeanSquares, average: bool, alpha: f64) -> Icc {
    let MeanSquares { n, k, msb, msw, .. } = *ms;
    let icc = if average { (msb - msw) / msb } else { (msb - msw) / (msb + (k - 1.0) * msw) };
    let (f, df1, df2) = (msb / msw, n - 1.0, n * (k - 1.0));
    let (ci_low, ci_high) = f_interval(f, k, df1, df2, average, alpha);
    Icc { icc, f, df1, df2, p: f_sf(f, df1, df2), ci_low, ci_high }
}

fn consistency(ms: &MeanSquares, average: bool, alpha: f64) -> Icc {
    let MeanSquares { n, k, msb, mse, .. } = *ms;
    let icc = if average { (msb - mse) / msb } else { (msb - mse) / (msb + (k - 1.0) * mse) };
    let (f, df1, df2) = (msb / mse, n - 1.0, (n - 1.0) * (k - 1.0));
    let (ci_low, ci_high) = f_interval(f, k, df1, df2, average, alpha);
    Icc { icc, f, df1, df2, p: f_sf(f, df1, df2), ci_low, ci_high }
}

/// ICC(2,·): the interval uses Satterthwaite's degrees of freedom for the
/// combined rater and residual variance (McGraw & Wong 1996, table 7); the
/// average-measure bounds are the single-measure ones stepped up by
/// Spearman–Brown, as pingouin does.
fn absolute_agreement(ms: &MeanSquares, average: bool, alpha: f64) -> Icc {
    let MeanSquares { n, k, msb, msj, mse, .. } = *ms;
    let single = (msb - mse) / (msb + (k - 1.0) * mse + k * (msj - mse) / n);
    let icc = if average { (msb - mse) / (msb + (msj - mse) / n) } else { single };
    let (f, df1, df2) = (msb / mse, n - 1.0, (n - 1.0) * (k - 1.0));

    let fj = msj / mse;
    let spread = n * (1.0 + (k - 1.0) * single) - k * single;
    let v = df2 * (k * single * fj + spread).powi(2) / (df1 * (k * single * fj).powi(2) + spread.powi(2));
    let f_high = f_upper(alpha, n - 1.0, v);
    let f_low = f_upper(alpha, v, n - 1.0);
    let rater_term = k * msj + (k * n - k - n) * mse;
    let low = n * (msb - f_high * mse) / (f_high * rater_term + n * msb);
    let high = n * (f_low * msb - mse) / (rater_term + n * f_low * msb);
    let step_up = |r: f64| if average { r * k / (1.0 + r * (k - 1.0)) } else { r };

    Icc { icc, f, df1, df2, p: f_sf(f, df1, df2), ci_low: step_up(low), ci_high: step_up(high) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shrout & Fleiss (1979), table 2: six targets rated by four judges.
    fn shrout_fleiss() -> Vec<Vec<f64>> {
        vec![
            vec![9.0, 2.0, 5.0, 8.0],
            vec![6.0, 1.0, 3.0, 2.0],
            vec![8.0, 4.0, 6.0, 8.0],
            vec![7.0, 1.0, 2.0, 6.0],
            vec![10.0, 5.0, 6.0, 9.0],
            vec![6.0, 2.0, 4.0, 7.0],
        ]
    }

    #[test]
    fn shrout_fleiss_published_values() {
        // Table 4 of the paper, to its two decimals.
        let published = [
            (IccForm::Icc1, 0.17),
            (IccForm::Icc2, 0.29),
            (IccForm::Icc3, 0.71),
            (IccForm::Icc1k, 0.44),
            (IccForm::Icc2k, 0.62),
            (IccForm::Icc3k, 0.91),
        ];
        for (form, want) in published {
            let got = icc(&shrout_fleiss(), form, 0.95).unwrap();
            assert!((got.icc - want).abs() < 0.005, "{}: {} vs {want}", form.label(), got.icc);
            assert!(got.ci_low < got.icc && got.icc < got.ci_high, "{}: {got:?}", form.label());
        }
    }

    #[test]
    fn forms_parse_in_every_spelling() {
        for (text, form) in [
            ("1,1", IccForm::Icc1),
            ("2,1", IccForm::Icc2),
            ("3,1", IccForm::Icc3),
            ("1,k", IccForm::Icc1k),
            ("2,K", IccForm::Icc2k),
            ("3,k", IccForm::Icc3k),
            ("ICC1", IccForm::Icc1),
            ("icc2", IccForm::Icc2),
            ("ICC3k", IccForm::Icc3k),
            ("ICC(2,1)", IccForm::Icc2),
            ("ICC(A,k)", IccForm::Icc2k),
            ("c,1", IccForm::Icc3),
        ] {
            assert_eq!(text.parse::<IccForm>().unwrap(), form, "{text}");
        }
        for form in IccForm::ALL {
            assert_eq!(form.label().parse::<IccForm>().unwrap(), form);
        }
        let e = "4,1".parse::<IccForm>().unwrap_err();
        assert!(e.to_string().contains("`4,1` is not an ICC form"), "{e}");
    }

    #[test]
    fn bad_ratings_are_explained() {
        let cases: [(Vec<Vec<f64>>, &str); 5] = [
            (vec![vec![1.0, 2.0]], "at least 2 subjects and 2 raters"),
            (vec![vec![1.0], vec![2.0]], "at least 2 subjects and 2 raters"),
            (vec![vec![1.0, 2.0], vec![2.0]], "subject 2 has 1 ratings"),
            (vec![vec![1.0, 2.0], vec![2.0, f64::NAN]], "subject 2, rater 2"),
            (vec![vec![3.0, 3.0], vec![3.0, 3.0]], "every rating is the same"),
        ];
        for (ratings, message) in cases {
            let e = icc(&ratings, IccForm::Icc2, 0.95).unwrap_err().to_string();
            assert!(e.contains(message), "{e}");
        }
        let e = icc(&shrout_fleiss(), IccForm::Icc1, 1.0).unwrap_err().to_string();
        assert!(e.contains("confidence level"), "{e}");
    }

    #[test]
    fn identical_raters_give_one_without_panicking() {
        let ratings = vec![vec![1.0, 1.0], vec![2.0, 2.0], vec![4.0, 4.0]];
        for form in IccForm::ALL {
            let got = icc(&ratings, form, 0.95).unwrap();
            assert_eq!((got.icc, got.f, got.p), (1.0, f64::INFINITY, 0.0), "{}", form.label());
        }
    }

    #[test]
    fn a_wider_confidence_gives_a_wider_interval() {
        for form in IccForm::ALL {
            let narrow = icc(&shrout_fleiss(), form, 0.8).unwrap();
            let wide = icc(&shrout_fleiss(), form, 0.99).unwrap();
            assert_eq!(narrow.icc, wide.icc);
            assert!(wide.ci_low < narrow.ci_low && narrow.ci_high < wide.ci_high, "{}", form.label());
        }
    }
}
