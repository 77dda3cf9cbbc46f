//! The leakage-safe pipeline: per-input steps (e.g. selection per MR
//! sequence), concatenation, combined steps (e.g. PCA, SMOTE), a classifier.
//! Every step is fitted on the training rows of a fold only and applied to
//! the held-out rows as fitted; SMOTE adds rows to the training data only.
//!
//! Text form (the `pipeline` command):
//! `standardize | chi2 k=64 bins=10 | lassocv keep=32 then pca n=32 | smote ratio=1 | logistic C=1`
//! (`decorrelate r=0.9` drops redundant features, fitted like any step).
//! Steps before `then` apply to each input separately; the rest to the
//! concatenation. Without `then`, every step applies to the concatenation.

use serde::{Deserialize, Serialize};

use crate::core::learn::classifiers::{FittedClassifier, bagged_trees, l2_logistic};
use crate::core::learn::cv::Fold;
use crate::core::learn::lasso::{SKLEARN_MAX_ITER, Scoring, default_cs, l1_logistic_cv, lasso, lasso_cv_with};
use crate::core::learn::matrix::Matrix;
use crate::core::learn::metrics;
use crate::core::learn::steps::{
    BinStrategy, Fitted, chi2_scores, decorrelate_selection, fit_discretize, fit_minmax, fit_pca, fit_standardize,
    mann_whitney_scores, smote, top_k,
};
use crate::core::rng::Rng;
use crate::error::{Error, Result};

/// The |r| above which `decorrelate` removes a feature when `r=` is not given.
pub const DEFAULT_DECORRELATE_R: f64 = 0.9;

/// One step, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Step {
    Standardize,
    MinMax,
    Discretize {
        bins: usize,
        strategy: BinStrategy,
    },
    /// scikit-learn `SelectKBest(chi2, k)`; with `bins`, scores are computed
    /// on quantile-binned values (the selected columns keep their values).
    Chi2 {
        k: usize,
        bins: Option<usize>,
    },
    /// Mann-Whitney screen: the `k` smallest p-values, or all below `p`.
    MannWhitney {
        k: Option<usize>,
        p: Option<f64>,
    },
    /// `LassoCV` on the 0/1 outcome; keeps non-zero (or the `keep` largest |coef|).
    LassoCv {
        keep: Option<usize>,
        folds: usize,
    },
    /// `LogisticRegressionCV(penalty='l1')`; keeps non-zero (or the `keep` largest |coef|).
    LassoLogistic {
        keep: Option<usize>,
        folds: usize,
        cs: usize,
        scoring: Scoring,
    },
    Pca {
        n: usize,
        /// `upto=true`: at most n components (fewer when fewer columns reach
        /// PCA, e.g. when LASSO kept fewer features); otherwise exactly n.
        #[serde(default)]
        upto: bool,
    },
    /// imbalanced-learn `SMOTE(k_neighbors=k)` to minority = ratio × majority.
    Smote {
        k: usize,
        ratio: f64,
    },
    /// Redundancy removal (caret's `findCorrelation` rule): of each pair of
    /// training columns with |Pearson r| > `r`, the one more correlated with
    /// the rest is dropped.
    Decorrelate {
        r: f64,
    },
    /// A pinned list of features (a published selection): exactly these
    /// columns, by name, in this order. A name `INPUT:feature` belongs to
    /// one input of a multi-input pipeline (`T1:` matches the input `A.T1`);
    /// a bare name must be in every input the step sees.
    Features {
        keep: Vec<String>,
    },
}

/// The final classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Classifier {
    /// L2 logistic regression with inverse penalty C.
    Logistic { c: f64 },
    /// Bagged smartcore decision trees.
    Trees { n: usize, depth: u16 },
}

/// A validated pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    pub per_input: Vec<Step>,
    pub combined: Vec<Step>,
    pub classifier: Classifier,
    /// The text it was declared with.
    pub text: String,
}

fn bad(message: impl Into<String>, hint: Option<&str>) -> Error {
    Error::invalid(message, hint)
}

/// The step names `parse` accepts, in the order of [`Step`]'s variants;
/// [`Step::name`] gives each step's (a test keeps the two in step).
pub const STEP_NAMES: &[&str] = &[
    "standardize",
    "minmax",
    "discretize",
    "chi2",
    "mannwhitney",
    "lassocv",
    "lasso-logistic",
    "pca",
    "smote",
    "decorrelate",
    "features",
];

impl Step {
    /// The name the step is declared with (`mannwhitney`), for messages and tables.
    pub fn name(&self) -> &'static str {
        let i = match self {
            Step::Standardize => 0,
            Step::MinMax => 1,
            Step::Discretize { .. } => 2,
            Step::Chi2 { .. } => 3,
            Step::MannWhitney { .. } => 4,
            Step::LassoCv { .. } => 5,
            Step::LassoLogistic { .. } => 6,
            Step::Pca { .. } => 7,
            Step::Smote { .. } => 8,
            Step::Decorrelate { .. } => 9,
            Step::Features { .. } => 10,
        };
        STEP_NAMES[i]
    }
}

struct Options<'a> {
    step: &'a str,
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Options<'a> {
    /// The `key=value` words after a step's name.
    fn new(step: &'a str, words: &[&'a str]) -> Result<Options<'a>> {
        let pairs = words
            .iter()
            .map(|w| {
                w.split_once('=').ok_or_else(|| bad(format!("`{step}`: write options as key=value, not `{w}`"), None))
            })
            .collect::<Result<_>>()?;
        Ok(Options { step, pairs })
    }

    fn take<T: std::str::FromStr>(&mut self, key: &str) -> Result<Option<T>> {
        let Some(pos) = self.pairs.iter().position(|(k, _)| k.eq_ignore_ascii_case(key)) else {
            return Ok(None);
        };
        let (_, v) = self.pairs.remove(pos);
        v.parse::<T>().map(Some).map_err(|_| bad(format!("`{}`: {key}={v} is not a valid value", self.step), None))
    }

    fn finish(self) -> Result<()> {
        match self.pairs.first() {
            None => Ok(()),
            Some((k, _)) => Err(bad(
                format!("`{}` has no option `{k}`", self.step),
                Some("see `help pipeline` for each step's options"),
            )),
        }
    }
}

fn parse_step(words: &[&str]) -> Result<Step> {
    let (name, rest) = words.split_first().ok_or_else(|| bad("an empty step between `|`", None))?;
    let mut o = Options::new(name, rest)?;
    let step = match *name {
        "standardize" => Step::Standardize,
        "minmax" => Step::MinMax,
        "discretize" => {
            let strategy = match o.take::<String>("strategy")?.as_deref() {
                None | Some("quantile") => BinStrategy::Quantile,
                Some("uniform") => BinStrategy::Uniform,
                Some(other) => {
                    return Err(bad(format!("`discretize`: strategy={other}; use quantile or uniform"), None));
                }
            };
            Step::Discretize { bins: o.take("bins")?.unwrap_or(10), strategy }
        }
        "chi2" => Step::Chi2 { k: o.take("k")?.ok_or_else(|| bad("`chi2` needs k=N", None))?, bins: o.take("bins")? },
        "mannwhitney" => {
            let (k, p) = (o.take("k")?, o.take("p")?);
            if k.is_none() && p.is_none() {
                return Err(bad("`mannwhitney` needs k=N or p=THRESHOLD", None));
            }
            Step::MannWhitney { k, p }
        }
        "lassocv" => Step::LassoCv { keep: o.take("keep")?, folds: o.take("folds")?.unwrap_or(5) },
        "lasso-logistic" => {
            let scoring = match o.take::<String>("scoring")?.as_deref() {
                None | Some("accuracy") => Scoring::Accuracy,
                Some("auc") => Scoring::Auc,
                Some(other) => {
                    return Err(bad(format!("`lasso-logistic`: scoring={other}; use accuracy or auc"), None));
                }
            };
            Step::LassoLogistic {
                keep: o.take("keep")?,
                folds: o.take("folds")?.unwrap_or(5),
                cs: o.take("cs")?.unwrap_or(10),
                scoring,
            }
        }
        "pca" => Step::Pca {
            n: o.take("n")?.ok_or_else(|| bad("`pca` needs n=COMPONENTS", None))?,
            upto: o.take("upto")?.unwrap_or(false),
        },
        "smote" => {
            let ratio: f64 = o.take("ratio")?.unwrap_or(1.0);
            if !(ratio > 0.0 && ratio <= 1.0) {
                return Err(bad(format!("`smote`: ratio={ratio} must be in (0, 1]"), None));
            }
            Step::Smote { k: o.take("k")?.unwrap_or(5), ratio }
        }
        "decorrelate" => {
            let r: f64 = o.take("r")?.unwrap_or(DEFAULT_DECORRELATE_R);
            if !(r > 0.0 && r < 1.0) {
                return Err(bad(format!("`decorrelate`: r={r} must be in (0, 1)"), Some("e.g. `decorrelate r=0.9`")));
            }
            Step::Decorrelate { r }
        }
        "features" => {
            let list: String = o.take("keep")?.ok_or_else(|| {
                bad(
                    "`features` needs keep=NAME,NAME,…",
                    Some("in the shell, `features names=FILE` reads the list from a file"),
                )
            })?;
            let keep: Vec<String> =
                list.split(',').map(str::trim).filter(|n| !n.is_empty()).map(String::from).collect();
            if keep.is_empty() {
                return Err(bad("`features`: keep= names no feature", None));
            }
            if let Some(d) = keep.iter().enumerate().find(|(i, n)| keep[..*i].contains(n)) {
                return Err(bad(format!("`features`: `{}` is listed twice", d.1), None));
            }
            Step::Features { keep }
        }
        other => {
            let hint = format!("steps: {}; classifiers: logistic trees", STEP_NAMES.join(" "));
            return Err(bad(format!("unknown step `{other}`"), Some(&hint)));
        }
    };
    o.finish()?;
    Ok(step)
}

fn parse_classifier(words: &[&str]) -> Result<Option<Classifier>> {
    let Some((name, rest)) = words.split_first() else { return Ok(None) };
    let mut o = Options::new(name, rest)?;
    let c = match *name {
        "logistic" => {
            let c: f64 = o.take("c")?.unwrap_or(1.0);
            if c <= 0.0 {
                return Err(bad("`logistic`: C must be positive", None));
            }
            Classifier::Logistic { c }
        }
        "trees" => Classifier::Trees { n: o.take("n")?.unwrap_or(200), depth: o.take("depth")?.unwrap_or(4) },
        _ => return Ok(None),
    };
    o.finish()?;
    Ok(Some(c))
}

impl Pipeline {
    /// Parses and validates the text form (see the module doc).
    pub fn parse(text: &str) -> Result<Pipeline> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let (before, after) = match words.iter().position(|w| *w == "then") {
            Some(i) => (&words[..i], &words[i + 1..]),
            None => (&words[..0], &words[..]),
        };
        let split = |ws: &[&'_ str]| -> Vec<Vec<String>> {
            ws.split(|w| *w == "|")
                .map(|g| g.iter().map(|s| s.to_string()).collect())
                .filter(|g: &Vec<String>| !g.is_empty())
                .collect()
        };
        let per_input_groups = split(before);
        let mut combined_groups = split(after);
        let last =
            combined_groups.pop().ok_or_else(|| bad("a pipeline ends with a classifier (logistic or trees)", None))?;
        let last_refs: Vec<&str> = last.iter().map(String::as_str).collect();
        let classifier = parse_classifier(&last_refs)?.ok_or_else(|| {
            bad(
                format!("the last step `{}` is not a classifier", last[0]),
                Some("end with `logistic C=1` or `trees n=200 depth=4`"),
            )
        })?;
        let parse_all = |groups: &[Vec<String>]| -> Result<Vec<Step>> {
            groups.iter().map(|g| parse_step(&g.iter().map(String::as_str).collect::<Vec<_>>())).collect()
        };
        let per_input = parse_all(&per_input_groups)?;
        let combined = parse_all(&combined_groups)?;
        if per_input.iter().any(|s| matches!(s, Step::Smote { .. })) {
            return Err(bad("SMOTE balances the combined training data; put it after `then`", None));
        }
        Ok(Pipeline { per_input, combined, classifier, text: words.join(" ") })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A step as fitted on one fold's training rows (`None` for SMOTE, which
/// has nothing to apply to new rows).
pub(crate) type FittedStep = Option<Fitted>;

/// A pipeline fitted on training rows.
pub struct FittedPipeline {
    per_input: Vec<Vec<FittedStep>>,
    combined: Vec<FittedStep>,
    classifier: FittedClassifier,
    /// The features each selection kept, by name, as they entered PCA or
    /// the classifier.
    pub selected: Vec<String>,
}

fn keep_top(scores: &[f64], keep: Option<usize>, nonzero_only: bool) -> Vec<usize> {
    let nonzero: Vec<usize> = (0..scores.len()).filter(|&i| scores[i] != 0.0 || !nonzero_only).collect();
    match keep {
        Some(k) => {
            let masked: Vec<f64> =
                (0..scores.len()).map(|i| if nonzero.contains(&i) { scores[i] } else { f64::NAN }).collect();
            top_k(&masked, k.min(nonzero.len()))
        }
        None => nonzero,
    }
}

/// Fits one step; returns the fitted step and the training data after it.
pub(crate) fn fit_step(
    step: &Step,
    x: Matrix,
    y: Vec<u8>,
    names: Vec<String>,
    seed: u64,
) -> Result<(FittedStep, Matrix, Vec<u8>, Vec<String>)> {
    let need = |k: usize, what: &str| -> Result<()> {
        if k > x.cols {
            Err(bad(
                format!("`{what}` asks for {k} features but only {} reach it", x.cols),
                Some("lower k, or select less before"),
            ))
        } else if k == 0 {
            Err(bad(format!("`{what}` must keep at least one feature"), None))
        } else {
            Ok(())
        }
    };
    let select = |keep: Vec<usize>, scores: Vec<f64>, x: Matrix, y: Vec<u8>, names: Vec<String>| {
        if keep.is_empty() {
            return Err(bad(
                "a selection step kept no features in this training fold",
                Some("use keep=N to force the N strongest"),
            ));
        }
        let fitted = Fitted::Select { keep: keep.clone(), scores };
        let out = fitted.transform(&x);
        let names = keep.iter().map(|&i| names[i].clone()).collect();
        Ok((Some(fitted), out, y, names))
    };
    match step {
        Step::Standardize | Step::MinMax => {
            let fitted = if *step == Step::Standardize { fit_standardize(&x) } else { fit_minmax(&x) };
            let out = fitted.transform(&x);
            Ok((Some(fitted), out, y, names))
        }
        Step::Discretize { bins, strategy } => {
            let fitted = fit_discretize(&x, *bins, *strategy)?;
            let out = fitted.transform(&x);
            Ok((Some(fitted), out, y, names))
        }
        Step::Chi2 { k, bins } => {
            need(*k, step.name())?;
            let scored = match bins {
                Some(b) => fit_discretize(&x, *b, BinStrategy::Quantile)?.transform(&x),
                None => x.clone(),
            };
            let (scores, _) = chi2_scores(&scored, &y, &names)?;
            select(top_k(&scores, *k), scores, x, y, names)
        }
        Step::MannWhitney { k, p } => {
            let scores = mann_whitney_scores(&x, &y)?;
            let keep = match (k, p) {
                (Some(k), _) => {
                    need(*k, step.name())?;
                    top_k(&scores, *k)
                }
                (None, Some(p)) => (0..scores.len()).filter(|&i| 1.0 - scores[i] < *p).collect(),
                (None, None) => (0..scores.len()).collect(),
            };
            select(keep, scores, x, y, names)
        }
        Step::LassoCv { keep, folds } => {
            if let Some(k) = keep {
                need(*k, step.name())?;
            }
            let yf: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
            // scikit-learn LassoCV's defaults: tol 1e-4, max_iter 1000.
            let fit = lasso_cv_with(&x, &yf, *folds, 1e-4, SKLEARN_MAX_ITER)?;
            let mut scores: Vec<f64> = fit.model.coef.iter().map(|c| c.abs()).collect();
            if keep.is_some() && scores.iter().all(|s| *s == 0.0) {
                // The chosen α zeroes every coefficient (no feature beats the
                // intercept in this fold). With keep=N, rank by LASSO at the
                // grid's smallest α instead, where features enter.
                let smallest = fit.alphas.last().copied().unwrap_or(fit.alpha);
                scores = lasso(&x, &yf, smallest, 1e-4).coef.iter().map(|c| c.abs()).collect();
            }
            select(keep_top(&scores, *keep, true), scores, x, y, names)
        }
        Step::LassoLogistic { keep, folds, cs, scoring } => {
            if let Some(k) = keep {
                need(*k, step.name())?;
            }
            let (model, _) = l1_logistic_cv(&x, &y, &default_cs(*cs), *folds, *scoring, seed, 1e-8)?;
            let scores: Vec<f64> = model.coef.iter().map(|c| c.abs()).collect();
            select(keep_top(&scores, *keep, true), scores, x, y, names)
        }
        Step::Features { keep } => {
            let picked = pinned_columns(keep, &names)?;
            let scores = (0..names.len()).map(|i| if picked.contains(&i) { 1.0 } else { 0.0 }).collect();
            select(picked, scores, x, y, names)
        }
        Step::Pca { n, upto } => {
            let n = if *upto { (*n).min(x.cols).min(x.rows.saturating_sub(1)).max(1) } else { *n };
            let fitted = fit_pca(&x, n)?;
            let out = fitted.transform(&x);
            Ok((Some(fitted), out, y, (1..=n).map(|i| format!("PC{i}")).collect()))
        }
        Step::Smote { k, ratio } => {
            let (extra, labels) = smote(&x, &y, *k, *ratio, seed)?;
            let mut y = y;
            y.extend(labels);
            Ok((None, x.vstack(&extra), y, names))
        }
        Step::Decorrelate { r } => {
            let (keep, scores) = decorrelate_selection(&x, *r)?;
            select(keep, scores, x, y, names)
        }
    }
}

fn apply(steps: &[FittedStep], x: &Matrix) -> Matrix {
    steps.iter().flatten().fold(x.clone(), |m, f| f.transform(&m))
}

/// Names as they stand before the first PCA (what selection kept).
fn track_selected(steps: &[Step], names_after: &[Vec<String>]) -> Vec<String> {
    let before_pca = steps.iter().position(|s| matches!(s, Step::Pca { .. })).unwrap_or(steps.len());
    if before_pca == 0 { names_after.first().cloned().unwrap_or_default() } else { names_after[before_pca].clone() }
}

/// The feature steps of a pipeline (everything but SMOTE and the
/// classifier) fitted on training rows: what the deep model's radiomics
/// branch receives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FittedFeatures {
    per_input: Vec<Vec<FittedStep>>,
    combined: Vec<FittedStep>,
    /// The features each selection kept, as they entered PCA.
    pub selected: Vec<String>,
    /// The output columns' names (features, or PC1…).
    pub names: Vec<String>,
}

impl FittedFeatures {
    /// The feature vectors of new rows (one matrix per input, same rows).
    pub fn transform(&self, inputs: &[Matrix]) -> Matrix {
        let blocks: Vec<Matrix> = inputs.iter().zip(&self.per_input).map(|(x, steps)| apply(steps, x)).collect();
        let x = join(&blocks);
        apply(&self.combined, &x)
    }
}

/// Fitted steps and the training data after them.
struct FitOutcome {
    per_input: Vec<Vec<FittedStep>>,
    combined: Vec<FittedStep>,
    x: Matrix,
    y: Vec<u8>,
    selected: Vec<String>,
    names: Vec<String>,
}

impl Pipeline {
    fn fit_steps(
        &self,
        inputs: &[(String, Matrix, Vec<String>)],
        y: &[u8],
        seed: u64,
        with_smote: bool,
    ) -> Result<FitOutcome> {
        if inputs.is_empty() {
            return Err(bad("a pipeline needs at least one input", None));
        }
        let multi = inputs.len() > 1;
        let mut per_input = Vec::with_capacity(inputs.len());
        let mut blocks: Vec<Matrix> = Vec::new();
        let mut block_names: Vec<String> = Vec::new();
        let mut selected = Vec::new();
        for (i, (label, x, names)) in inputs.iter().enumerate() {
            let names = input_names(label, names, multi);
            let (mut cur, mut cur_y, mut cur_names) = (x.clone(), y.to_vec(), names);
            let mut fitted = Vec::new();
            let mut history = vec![cur_names.clone()];
            for (s, step) in self.per_input.iter().enumerate() {
                let step_seed = per_input_seed(seed, i, s);
                let (f, out, out_y, out_names) = fit_step(step, cur, cur_y, cur_names, step_seed)?;
                fitted.push(f);
                cur = out;
                cur_y = out_y;
                cur_names = out_names;
                history.push(cur_names.clone());
            }
            if !self.per_input.is_empty() {
                selected.extend(history.last().cloned().unwrap_or_default());
            }
            block_names.extend(cur_names);
            blocks.push(cur);
            per_input.push(fitted);
        }
        let mut x = join(&blocks);
        let (mut cur_y, mut names) = (y.to_vec(), block_names);
        let mut combined = Vec::new();
        let mut history = vec![names.clone()];
        let steps: Vec<&Step> =
            self.combined.iter().filter(|s| with_smote || !matches!(s, Step::Smote { .. })).collect();
        for (s, step) in steps.iter().enumerate() {
            let (f, out, out_y, out_names) = fit_step(step, x, cur_y, names, combined_seed(seed, s))?;
            combined.push(f);
            x = out;
            cur_y = out_y;
            names = out_names;
            history.push(names.clone());
        }
        if self.per_input.is_empty() {
            let owned: Vec<Step> = steps.iter().map(|s| (*s).clone()).collect();
            selected = track_selected(&owned, &history);
        }
        Ok(FitOutcome { per_input, combined, x, y: cur_y, selected, names })
    }

    /// Fits on the training rows of every input (same rows, same order).
    pub fn fit(&self, inputs: &[(String, Matrix, Vec<String>)], y: &[u8], seed: u64) -> Result<FittedPipeline> {
        let out = self.fit_steps(inputs, y, seed, true)?;
        let classifier = match &self.classifier {
            Classifier::Logistic { c } => FittedClassifier::Linear(l2_logistic(&out.x, &out.y, *c)?),
            Classifier::Trees { n, depth } => {
                bagged_trees(&out.x, &out.y, *n, *depth, Rng::sub_seed(seed, &["classifier"]))?
            }
        };
        Ok(FittedPipeline { per_input: out.per_input, combined: out.combined, classifier, selected: out.selected })
    }

    /// Fits the feature steps only (SMOTE and the classifier are left to the
    /// caller) on training rows; returns them and the training features.
    pub fn fit_features(
        &self,
        inputs: &[(String, Matrix, Vec<String>)],
        y: &[u8],
        seed: u64,
    ) -> Result<(FittedFeatures, Matrix)> {
        let out = self.fit_steps(inputs, y, seed, false)?;
        let fitted = FittedFeatures {
            per_input: out.per_input,
            combined: out.combined,
            selected: out.selected,
            names: out.names,
        };
        Ok((fitted, out.x))
    }
}

impl FittedPipeline {
    /// Probability of the positive class for rows of every input.
    pub fn predict(&self, inputs: &[Matrix]) -> Result<Vec<f64>> {
        let blocks: Vec<Matrix> = inputs.iter().zip(&self.per_input).map(|(x, steps)| apply(steps, x)).collect();
        let x = join(&blocks);
        self.classifier.predict_proba(&apply(&self.combined, &x))
    }
}

/// One fold's outcome.
#[derive(Debug, Clone)]
pub struct FoldResult {
    pub fold: usize,
    pub train: usize,
    pub test: Vec<usize>,
    pub probability: Vec<f64>,
    pub auc: f64,
    pub accuracy: f64,
    pub f1: f64,
    pub selected: Vec<String>,
}

impl FoldResult {
    /// A fold's result from its held-out probabilities (in `test` order),
    /// with the metrics computed as [`cross_validate`] computes them.
    pub fn from_probabilities(
        fold: usize,
        train: usize,
        test: Vec<usize>,
        y: &[u8],
        probability: Vec<f64>,
        selected: Vec<String>,
    ) -> FoldResult {
        let truth: Vec<u8> = test.iter().map(|&i| y[i]).collect();
        FoldResult {
            fold,
            train,
            auc: metrics::auc(&probability, &truth),
            accuracy: metrics::accuracy(&probability, &truth, 0.5),
            f1: metrics::f1(&probability, &truth, 0.5),
            test,
            probability,
            selected,
        }
    }
}

/// The inputs' blocks side by side, in input order: the one place the
/// per-input matrices become the combined one.
pub(crate) fn join(blocks: &[Matrix]) -> Matrix {
    blocks.iter().skip(1).fold(blocks[0].clone(), |acc, b| acc.hstack(b))
}

/// An input's column names as the combined steps see them: prefixed with
/// the input's label (`T1:f0`) when there are several inputs.
pub(crate) fn input_names(label: &str, names: &[String], multi: bool) -> Vec<String> {
    if multi { names.iter().map(|n| format!("{label}:{n}")).collect() } else { names.to_vec() }
}

/// The columns a `features keep=…` list picks from `names`, in the list's
/// order. Column names are `feature` or, in a multi-input pipeline,
/// `INPUT:feature`; a listed `P:feature` matches the input `P` or `….P`
/// (`T1:` matches `A.T1:`) and is skipped when it names another input.
fn pinned_columns(keep: &[String], names: &[String]) -> Result<Vec<usize>> {
    let input = names.first().and_then(|n| n.split_once(':')).map(|(l, _)| l.to_string());
    let is_this_input = |p: &str| input.as_deref().is_some_and(|l| l == p || l.ends_with(&format!(".{p}")));
    let mut picked = Vec::new();
    for k in keep {
        let (prefix, feature) = match k.split_once(':') {
            Some((p, f)) => (Some(p), f),
            None => (None, k.as_str()),
        };
        if prefix.is_some_and(|p| input.is_some() && !is_this_input(p)) {
            continue; // another input's feature
        }
        let found = names.iter().position(|n| n == k || n.split_once(':').map_or(n == feature, |(_, f)| f == feature));
        match found {
            Some(i) if !picked.contains(&i) => picked.push(i),
            Some(_) => {}
            None => {
                return Err(bad(
                    format!("`features`: no feature `{k}` reaches this step"),
                    Some("the names are the frame's columns (`columns FRAME`), after any earlier step"),
                ));
            }
        }
    }
    if picked.is_empty() {
        return Err(bad("`features`: none of the listed features belongs to this input", None));
    }
    Ok(picked)
}

/// The seed of per-input step `step` on input `input`.
pub fn per_input_seed(seed: u64, input: usize, step: usize) -> u64 {
    Rng::sub_seed(seed, &["input", &input.to_string(), "step", &step.to_string()])
}

/// The seed of combined step `step` (after the inputs are joined).
pub fn combined_seed(seed: u64, step: usize) -> u64 {
    Rng::sub_seed(seed, &["combined", &step.to_string()])
}

/// Fits on each fold's training rows and predicts its held-out rows.
/// `cancelled` is polled between folds.
pub fn cross_validate(
    pipeline: &Pipeline,
    inputs: &[(String, Matrix, Vec<String>)],
    y: &[u8],
    folds: &[Fold],
    seed: u64,
    cancelled: &dyn Fn() -> bool,
    on_fold: &mut dyn FnMut(&FoldResult) -> Result<()>,
) -> Result<Vec<FoldResult>> {
    cross_validate_reusing(pipeline, inputs, y, folds, seed, cancelled, &|_| None, on_fold)
}

/// [`cross_validate`], taking fold `f`'s result from `earlier(f)` where it
/// gives one (a fold an interrupted run finished: fitting is deterministic
/// for a seed, so it is what fitting again would give) instead of fitting.
#[allow(clippy::too_many_arguments)]
pub fn cross_validate_reusing(
    pipeline: &Pipeline,
    inputs: &[(String, Matrix, Vec<String>)],
    y: &[u8],
    folds: &[Fold],
    seed: u64,
    cancelled: &dyn Fn() -> bool,
    earlier: &dyn Fn(usize) -> Option<FoldResult>,
    on_fold: &mut dyn FnMut(&FoldResult) -> Result<()>,
) -> Result<Vec<FoldResult>> {
    let mut results = Vec::with_capacity(folds.len());
    for (f, fold) in folds.iter().enumerate() {
        if cancelled() {
            return Err(Error::Cancelled);
        }
        if let Some(result) = earlier(f) {
            on_fold(&result)?;
            results.push(result);
            continue;
        }
        let train_inputs: Vec<(String, Matrix, Vec<String>)> =
            inputs.iter().map(|(l, x, n)| (l.clone(), x.select_rows(&fold.train), n.clone())).collect();
        let ytr: Vec<u8> = fold.train.iter().map(|&i| y[i]).collect();
        let fitted = pipeline.fit(&train_inputs, &ytr, Rng::sub_seed(seed, &["fold", &f.to_string()]))?;
        let test_inputs: Vec<Matrix> = inputs.iter().map(|(_, x, _)| x.select_rows(&fold.test)).collect();
        let probability = fitted.predict(&test_inputs)?;
        let result =
            FoldResult::from_probabilities(f, fold.train.len(), fold.test.clone(), y, probability, fitted.selected);
        on_fold(&result)?;
        results.push(result);
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_name_parses_to_a_step_of_that_name() {
        for name in STEP_NAMES {
            let opts = match *name {
                "chi2" | "mannwhitney" => " k=1",
                "pca" => " n=1",
                "features" => " keep=a",
                _ => "",
            };
            let p = Pipeline::parse(&format!("{name}{opts} | logistic")).unwrap();
            let step = p.per_input.first().or(p.combined.first()).unwrap();
            assert_eq!(step.name(), *name);
        }
    }

    #[test]
    fn parses_the_text_form() {
        let p = Pipeline::parse(
            "standardize | chi2 k=64 bins=10 | lassocv keep=32 then pca n=32 | smote ratio=1 | logistic C=0.5",
        )
        .unwrap();
        assert_eq!(p.per_input.len(), 3);
        assert_eq!(p.combined, vec![Step::Pca { n: 32, upto: false }, Step::Smote { k: 5, ratio: 1.0 }]);
        assert_eq!(p.classifier, Classifier::Logistic { c: 0.5 });
        let q: Pipeline = serde_json::from_str(&p.to_json()).unwrap();
        assert_eq!(q, p);
    }

    #[test]
    fn decorrelate_defaults_to_r_0_9() {
        let p = Pipeline::parse("standardize | decorrelate | logistic").unwrap();
        assert_eq!(p.combined[1], Step::Decorrelate { r: DEFAULT_DECORRELATE_R });
        let p = Pipeline::parse("decorrelate r=0.8 then logistic").unwrap();
        assert_eq!(p.per_input, vec![Step::Decorrelate { r: 0.8 }]);
        let e = Pipeline::parse("foo | logistic").unwrap_err().hint().unwrap_or_default();
        assert!(e.contains("decorrelate"), "{e}");
    }

    /// `dup` copies `base` in the held-out rows only; `near` tracks `base`
    /// in every row. Fitted on the training rows, decorrelate must drop one
    /// of `base`/`near` and keep `dup`.
    #[test]
    fn decorrelate_is_fitted_on_training_rows_only() {
        let mut rng = Rng::new(5);
        let (train, test) = (40, 40);
        let mut rows = Vec::new();
        for i in 0..train + test {
            let base = rng.normal();
            let near = base + 0.05 * rng.normal();
            let other = rng.normal();
            let dup = if i < train { rng.normal() } else { base };
            rows.push(vec![base, near, other, dup]);
        }
        let x = Matrix::from_rows(&rows);
        let y: Vec<u8> = (0..x.rows).map(|i| u8::from(i % 2 == 0)).collect();
        let names: Vec<String> = ["base", "near", "other", "dup"].map(String::from).to_vec();
        let pipe = Pipeline::parse("decorrelate r=0.9 | logistic").unwrap();
        let fit_on = |rows: &[usize]| {
            let inputs = vec![("T1".to_string(), x.select_rows(rows), names.clone())];
            let ys: Vec<u8> = rows.iter().map(|&i| y[i]).collect();
            pipe.fit(&inputs, &ys, 1).unwrap()
        };
        let training: Vec<usize> = (0..train).collect();
        let fitted = fit_on(&training);
        assert_eq!(fitted.selected.len(), 3, "{:?}", fitted.selected);
        assert!(fitted.selected.contains(&"dup".to_string()), "{:?}", fitted.selected);
        assert!(fitted.selected.contains(&"other".to_string()));
        let held_out: Vec<Matrix> = vec![x.select_rows(&(train..train + test).collect::<Vec<_>>())];
        assert_eq!(fitted.predict(&held_out).unwrap().len(), test);
        // The same step fitted on the held-out rows alone sees `dup` as a
        // copy of `base`: the training fit above did not.
        let leaky = fit_on(&(train..train + test).collect::<Vec<_>>());
        assert_eq!(leaky.selected.len(), 2, "{:?}", leaky.selected);
    }

    #[test]
    fn bad_pipelines_are_explained() {
        for (text, msg) in [
            ("standardize", "is not a classifier"),
            ("chi2 | logistic", "needs k=N"),
            ("chi2 k=x | logistic", "k=x is not a valid value"),
            ("foo | logistic", "unknown step `foo`"),
            ("smote then logistic", "put it after `then`"),
            ("pca n=3 depth=2 | logistic", "has no option `depth`"),
            ("decorrelate r=1 | logistic", "r=1 must be in (0, 1)"),
            ("decorrelate r=0 | logistic", "r=0 must be in (0, 1)"),
            ("decorrelate r=-0.5 | logistic", "must be in (0, 1)"),
        ] {
            let e = Pipeline::parse(text).unwrap_err().to_string();
            assert!(e.contains(msg), "{text}: {e}");
        }
    }

    #[test]
    fn features_pins_a_list_by_name_per_input() {
        let names = |l: &str| ["a", "b", "c"].iter().map(|f| format!("{l}:{f}")).collect::<Vec<_>>();
        let keep: Vec<String> = ["T1:c", "T2:a", "b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(pinned_columns(&keep, &names("A.T1")).unwrap(), vec![2, 1]);
        assert_eq!(pinned_columns(&keep, &names("A.T2")).unwrap(), vec![0, 1]);
        let single: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(pinned_columns(&["c".into(), "a".into()], &single).unwrap(), vec![2, 0]);
        let e = pinned_columns(&["zz".into()], &single).unwrap_err().to_string();
        assert!(e.contains("no feature `zz`"), "{e}");
        // A pipeline keeps exactly the listed columns, fitted on any rows.
        let p = Pipeline::parse("features keep=c,a | logistic").unwrap();
        let steps = if p.per_input.is_empty() { &p.combined } else { &p.per_input };
        assert_eq!(*steps, vec![Step::Features { keep: vec!["c".into(), "a".into()] }]);
        for bad in ["features | logistic", "features keep=a,a | logistic", "features names=x.txt | logistic"] {
            assert!(Pipeline::parse(bad).is_err(), "{bad}");
        }
    }
}
