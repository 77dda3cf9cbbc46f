//! Typed run records. A run's kind and status are enums; each kind's
//! parameters and metrics are a struct whose field names are the stored
//! keys. [`params_record!`] and [`metrics_record!`] write, from one field
//! list, both directions — the key/value rows a command stores and the
//! struct a reader gets back — so a key that `report`, `compare`,
//! `runs --resume` or `test` reads is a key some command wrote, by
//! construction. The vocabulary of runs (ids, statuses, values, metric
//! rows, predictions) lives here too; `store` re-exports it.

use crate::error::{Error, Result};

/// A run's id in the database.
pub type RunId = i64;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Finished,
    Failed,
    Cancelled,
    Interrupted,
}

impl RunStatus {
    pub const ALL: [RunStatus; 5] =
        [RunStatus::Running, RunStatus::Finished, RunStatus::Failed, RunStatus::Cancelled, RunStatus::Interrupted];

    /// The status a stored name means.
    pub fn parse(name: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// A run that ended without its result (`runs --resume` reruns these).
    pub fn is_unfinished(self) -> bool {
        matches!(self, RunStatus::Interrupted | RunStatus::Cancelled | RunStatus::Failed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One predicted probability: out-of-fold (with its fold) or on a test cohort.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub fold: Option<i64>,
    pub patient: String,
    pub label: u8,
    pub probability: f64,
}

impl Prediction {
    /// Each patient's probability with its label, all in one fold (or none).
    pub fn all(fold: Option<i64>, ids: &[String], labels: &[u8], probabilities: &[f64]) -> Vec<Prediction> {
        ids.iter()
            .zip(labels)
            .zip(probabilities)
            .map(|((id, &label), &probability)| Prediction { fold, patient: id.clone(), label, probability })
            .collect()
    }
}

/// A typed parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

impl ParamValue {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            ParamValue::Int(_) => "int",
            ParamValue::Float(_) => "float",
            ParamValue::Text(_) => "text",
            ParamValue::Bool(_) => "bool",
        }
    }

    pub fn display(&self) -> String {
        match self {
            ParamValue::Int(v) => v.to_string(),
            ParamValue::Float(v) => v.to_string(),
            ParamValue::Text(s) => s.clone(),
            ParamValue::Bool(b) => b.to_string(),
        }
    }
}

/// A metric value.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRecord {
    pub key: String,
    pub value: f64,
    pub step: Option<i64>,
    pub fold: Option<i64>,
    /// How the run went (a duration, a cache count), not its result.
    pub incidental: bool,
}

/// What a run did. Stored as its kebab-case name (`train-fold`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RunKind {
    Simulate,
    Load,
    Volume,
    Preprocess,
    Radiomics,
    Extract,
    Describe,
    Table1,
    ChiSquare,
    Fisher,
    MannWhitney,
    TTest,
    Select,
    Pca,
    Smote,
    Cv,
    CvFold,
    Holdout,
    Train,
    TrainConfig,
    TrainFold,
    TrainOuter,
    Test,
    Predict,
    Report,
    AuditLeakage,
    AuditArm,
    AuditPublished,
    Sleep,
    Derive,
    Corr,
    Icc,
    Plot,
    Dvh,
    Import,
}

impl RunKind {
    pub const ALL: [RunKind; 35] = [
        RunKind::Simulate,
        RunKind::Load,
        RunKind::Volume,
        RunKind::Preprocess,
        RunKind::Radiomics,
        RunKind::Extract,
        RunKind::Describe,
        RunKind::Table1,
        RunKind::ChiSquare,
        RunKind::Fisher,
        RunKind::MannWhitney,
        RunKind::TTest,
        RunKind::Select,
        RunKind::Pca,
        RunKind::Smote,
        RunKind::Cv,
        RunKind::CvFold,
        RunKind::Holdout,
        RunKind::Train,
        RunKind::TrainConfig,
        RunKind::TrainFold,
        RunKind::TrainOuter,
        RunKind::Test,
        RunKind::Predict,
        RunKind::Report,
        RunKind::AuditLeakage,
        RunKind::AuditArm,
        RunKind::AuditPublished,
        RunKind::Sleep,
        RunKind::Derive,
        RunKind::Corr,
        RunKind::Icc,
        RunKind::Plot,
        RunKind::Dvh,
        RunKind::Import,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Simulate => "simulate",
            RunKind::Load => "load",
            RunKind::Volume => "volume",
            RunKind::Preprocess => "preprocess",
            RunKind::Radiomics => "radiomics",
            RunKind::Extract => "extract",
            RunKind::Describe => "describe",
            RunKind::Table1 => "table1",
            RunKind::ChiSquare => "chisq",
            RunKind::Fisher => "fisher",
            RunKind::MannWhitney => "mannwhitney",
            RunKind::TTest => "ttest",
            RunKind::Select => "select",
            RunKind::Pca => "pca",
            RunKind::Smote => "smote",
            RunKind::Cv => "cv",
            RunKind::CvFold => "cv-fold",
            RunKind::Holdout => "holdout",
            RunKind::Train => "train",
            RunKind::TrainConfig => "train-config",
            RunKind::TrainFold => "train-fold",
            RunKind::TrainOuter => "train-outer",
            RunKind::Test => "test",
            RunKind::Predict => "predict",
            RunKind::Report => "report",
            RunKind::AuditLeakage => "audit-leakage",
            RunKind::AuditArm => "audit-arm",
            RunKind::AuditPublished => "audit-published",
            RunKind::Sleep => "sleep",
            RunKind::Derive => "derive",
            RunKind::Corr => "corr",
            RunKind::Icc => "icc",
            RunKind::Plot => "plot",
            RunKind::Dvh => "dvh",
            RunKind::Import => "import",
        }
    }

    /// The kind a stored name means; `None` for a name this version does not know.
    pub fn parse(name: &str) -> Option<RunKind> {
        RunKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Runs that hold one classifier's predictions on a cohort (the rows
    /// of Tables 2 and 3, the curves of the ROC figure).
    pub fn is_model_result(self) -> bool {
        matches!(self, RunKind::Cv | RunKind::Train | RunKind::Holdout | RunKind::Test)
    }
}

impl std::fmt::Display for RunKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value type a parameter field can hold.
pub trait ParamField: Sized {
    /// The stored value; `None` leaves the key out.
    fn to_param(&self) -> Option<ParamValue>;
    /// The field from the stored value (absent: `None`).
    fn from_param(value: Option<&ParamValue>) -> std::result::Result<Self, String>;
}

fn missing() -> String {
    "not recorded".into()
}

impl ParamField for String {
    fn to_param(&self) -> Option<ParamValue> {
        Some(ParamValue::Text(self.clone()))
    }
    fn from_param(value: Option<&ParamValue>) -> std::result::Result<Self, String> {
        value.map(ParamValue::display).ok_or_else(missing)
    }
}

impl ParamField for i64 {
    fn to_param(&self) -> Option<ParamValue> {
        Some(ParamValue::Int(*self))
    }
    fn from_param(value: Option<&ParamValue>) -> std::result::Result<Self, String> {
        match value {
            Some(ParamValue::Int(v)) => Ok(*v),
            Some(other) => Err(format!("expected an integer, found `{}`", other.display())),
            None => Err(missing()),
        }
    }
}

impl ParamField for usize {
    fn to_param(&self) -> Option<ParamValue> {
        Some(ParamValue::Int(*self as i64))
    }
    fn from_param(value: Option<&ParamValue>) -> std::result::Result<Self, String> {
        let v = i64::from_param(value)?;
        usize::try_from(v).map_err(|_| format!("expected a count, found {v}"))
    }
}

impl ParamField for f64 {
    fn to_param(&self) -> Option<ParamValue> {
        Some(ParamValue::Float(*self))
    }
    fn from_param(value: Option<&ParamValue>) -> std::result::Result<Self, String> {
        match value {
            Some(ParamValue::Float(v)) => Ok(*v),
            Some(ParamValue::Int(v)) => Ok(*v as f64),
            Some(other) => Err(format!("expected a number, found `{}`", other.display())),
            None => Err(missing()),
        }
    }
}

impl ParamField for bool {
    fn to_param(&self) -> Option<ParamValue> {
        Some(ParamValue::Bool(*self))
    }
    fn from_param(value: Option<&ParamValue>) -> std::result::Result<Self, String> {
        match value {
            Some(ParamValue::Bool(v)) => Ok(*v),
            Some(other) => Err(format!("expected true or false, found `{}`", other.display())),
            None => Err(missing()),
        }
    }
}

impl<T: ParamField> ParamField for Option<T> {
    fn to_param(&self) -> Option<ParamValue> {
        self.as_ref().and_then(T::to_param)
    }
    fn from_param(value: Option<&ParamValue>) -> std::result::Result<Self, String> {
        value.map(|v| T::from_param(Some(v))).transpose()
    }
}

/// A run kind's parameters: written as key/value rows, read back typed.
pub trait Params: Sized {
    fn to_params(&self) -> Vec<(String, ParamValue)>;
    /// Reads the record from `run`'s stored rows (the last value of a key wins).
    fn from_params(run: RunId, params: &[(String, ParamValue)]) -> Result<Self>;
}

/// A run's metrics: written as metric rows, read back typed.
pub trait Metrics: Sized {
    /// Every field's key, in declaration order.
    const FIELDS: &'static [&'static str];
    /// `(key, value)` for every recorded field, in declaration order.
    fn to_metrics(&self) -> Vec<(&'static str, f64)>;
    /// Reads the record from `run`'s metrics (see [`run_value`]).
    fn from_metrics(run: RunId, metrics: &[MetricRecord]) -> Result<Self>;
}

/// The one reading of "run R's metric K": the last value logged without a
/// step (a per-epoch curve is not the run's value). A value logged with no
/// fold wins over one logged with a fold, so a parent's summary is its own;
/// a fold run's metrics carry their fold number and are its values. `runs
/// --where`/`--sort` ask the database the same question
/// (`store::query::RUN_METRIC`).
pub fn run_value(metrics: &[MetricRecord], key: &str) -> Option<f64> {
    let plain = || metrics.iter().rev().find(|m| m.key == key && m.step.is_none() && m.fold.is_none());
    let folded = || metrics.iter().rev().find(|m| m.key == key && m.step.is_none());
    plain().or_else(folded).map(|m| m.value)
}

/// Every metric key of a run with its value as [`run_value`] reads it, and
/// whether it is incidental; keys logged only per step (curves) are left out.
pub fn run_values(metrics: &[MetricRecord]) -> Vec<(String, f64, bool)> {
    let mut keys: Vec<&str> = Vec::new();
    for m in metrics.iter().filter(|m| m.step.is_none()) {
        if !keys.contains(&m.key.as_str()) {
            keys.push(&m.key);
        }
    }
    keys.into_iter()
        .filter_map(|k| {
            let incidental = metrics.iter().any(|m| m.key == k && m.incidental);
            run_value(metrics, k).map(|v| (k.to_string(), v, incidental))
        })
        .collect()
}

pub(crate) fn field_error(run: RunId, key: &str, what: &str, e: String) -> Error {
    Error::invalid(
        format!("run {run}: {what} `{key}`: {e}"),
        Some("the run was recorded by a different radose version"),
    )
}

/// Declares a parameter record: the struct and its [`Params`] impl.
#[macro_export]
macro_rules! params_record {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name { $($(#[$fm])* pub $field: $ty),* }

        impl $crate::store::records::Params for $name {
            fn to_params(&self) -> Vec<(String, $crate::store::records::ParamValue)> {
                let mut out = Vec::new();
                $(
                    if let Some(v) = $crate::store::records::ParamField::to_param(&self.$field) {
                        out.push((stringify!($field).to_string(), v));
                    }
                )*
                out
            }

            fn from_params(
                run: $crate::store::records::RunId,
                params: &[(String, $crate::store::records::ParamValue)],
            ) -> $crate::error::Result<Self> {
                let get = |k: &str| params.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v);
                Ok($name {
                    $(
                        $field: $crate::store::records::ParamField::from_param(get(stringify!($field)))
                            .map_err(|e| $crate::store::records::field_error(run, stringify!($field), "parameter", e))?,
                    )*
                })
            }
        }
    };
}

/// Declares a metric record: `f64` fields are always written (NaN
/// included), `Option<f64>` fields when present.
#[macro_export]
macro_rules! metrics_record {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name { $($(#[$fm])* pub $field: $ty),* }

        impl $crate::store::records::Metrics for $name {
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];

            fn to_metrics(&self) -> Vec<(&'static str, f64)> {
                let mut out = Vec::new();
                $(
                    if let Some(v) = $crate::store::records::MetricField::value(&self.$field) {
                        out.push((stringify!($field), v));
                    }
                )*
                out
            }

            fn from_metrics(
                run: $crate::store::records::RunId,
                metrics: &[$crate::store::records::MetricRecord],
            ) -> $crate::error::Result<Self> {
                Ok($name {
                    $(
                        $field: $crate::store::records::MetricField::from_value(
                            $crate::store::records::run_value(metrics, stringify!($field)),
                        )
                        .map_err(|e| $crate::store::records::field_error(run, stringify!($field), "metric", e))?,
                    )*
                })
            }
        }
    };
}

/// A metric field: a value that is always there, or one that may not be.
pub trait MetricField: Sized {
    fn value(&self) -> Option<f64>;
    fn from_value(v: Option<f64>) -> std::result::Result<Self, String>;
}

impl MetricField for f64 {
    fn value(&self) -> Option<f64> {
        Some(*self)
    }
    fn from_value(v: Option<f64>) -> std::result::Result<Self, String> {
        // A NaN is stored as NULL and read back as NaN.
        Ok(v.unwrap_or(f64::NAN))
    }
}

impl MetricField for Option<f64> {
    fn value(&self) -> Option<f64> {
        *self
    }
    fn from_value(v: Option<f64>) -> std::result::Result<Self, String> {
        Ok(v)
    }
}

/// Keys that carry a name (`p_value:age`, one per variable; `risk_auc_A`):
/// the prefix is declared once, for every writer.
#[derive(Debug, Clone, Copy)]
pub struct Family(pub &'static str);

impl Family {
    pub fn key(self, name: &str) -> String {
        format!("{}{name}", self.0)
    }
}

/// Per-epoch curves a training run logs (with a step and a fold).
pub mod curve {
    pub const TRAIN_LOSS: &str = "train_loss";
    pub const VAL_LOSS: &str = "val_loss";
    pub const VAL_AUC: &str = "val_auc";
}

/// Metrics that say how a run went, not what it found
/// (`Store::log_incidental_metric`).
pub mod incidental {
    pub const SECONDS: &str = "seconds";
    pub const PATIENTS_DONE: &str = "patients_done";
    pub const PATIENTS_CACHED: &str = "patients_cached";
}

// ---- what each run kind records -------------------------------------

params_record! {
    /// `simulate`: where, how large, and the hash of each cohort's images.
    pub struct SimulateParams {
        pub out: String,
        pub size: String,
        pub n_a: usize,
        pub n_b: usize,
    }
}

/// `simulate`'s per-cohort keys.
pub const IMAGES_SHA256: Family = Family("images_sha256_");
pub const RISK_AUC: Family = Family("risk_auc_");

metrics_record! {
    pub struct SimulateMetrics {
        pub image_bytes: f64,
    }
}

params_record! {
    /// `load` and `describe`, `pca`, `smote`, `select`: the frame they read.
    pub struct FrameParams {
        pub frame: String,
        pub path: Option<String>,
        pub method: Option<String>,
        pub k: Option<usize>,
        pub n: Option<usize>,
        pub ratio: Option<f64>,
        pub selected: Option<String>,
    }
}

impl FrameParams {
    /// The record of a command that reads the frame `frame`.
    pub fn of(frame: &str) -> Self {
        FrameParams {
            frame: frame.to_string(),
            path: None,
            method: None,
            k: None,
            n: None,
            ratio: None,
            selected: None,
        }
    }
}

params_record! {
    /// A frame made from other frames (`filter`, `mutate`, `join`, `sql`,
    /// `load --features`) — its lineage — or an exploration of frames
    /// (`corr`, `icc`, the exploration plots).
    pub struct DeriveParams {
        pub verb: String,
        pub frame: Option<String>,
        pub parents: String,
        pub expression: Option<String>,
        pub method: Option<String>,
        pub threshold: Option<f64>,
    }
}

impl DeriveParams {
    /// The record of `verb` reading `parents` (and making `frame`, if it does).
    pub fn of(verb: &str, frame: Option<&str>, parents: &[String], expression: Option<&str>) -> Self {
        DeriveParams {
            verb: verb.to_string(),
            frame: frame.map(str::to_string),
            parents: parents.join(","),
            expression: expression.map(str::to_string),
            method: None,
            threshold: None,
        }
    }
}

metrics_record! {
    pub struct LoadMetrics {
        pub rows: f64,
    }
}

params_record! {
    /// `dvh`: a dose grid's histogram in each structure.
    pub struct DvhParams {
        pub dose: String,
        pub structures: String,
        pub rois: String,
        pub metrics: String,
        pub bin_gy: f64,
    }
}

params_record! {
    /// `cohort import`: a DICOM export turned into a cohort folder.
    pub struct ImportParams {
        pub root: String,
        pub to: String,
        pub map: String,
        pub roi: String,
        pub clinical: String,
        pub pseudonymised: bool,
    }
}

metrics_record! {
    pub struct ImportMetrics {
        pub patients_imported: f64,
        pub patients_skipped: f64,
        pub files_unreadable: f64,
    }
}

params_record! {
    /// `volume`: the image file shown.
    pub struct VolumeParams {
        pub path: String,
    }
}

params_record! {
    /// `preprocess`: the cohort, the settings (JSON) and their cache key.
    pub struct PreprocessRunParams {
        pub cohort: String,
        pub params: String,
        pub key: String,
        pub out: String,
        pub jobs: usize,
    }
}

metrics_record! {
    pub struct PreprocessMetrics {
        pub patients_failed: f64,
    }
}

params_record! {
    /// `radiomics`: one image and mask.
    pub struct RadiomicsParams {
        pub image: String,
        pub mask: String,
        pub settings: String,
        pub ibsi: bool,
    }
}

metrics_record! {
    pub struct RadiomicsMetrics {
        pub features: f64,
    }
}

params_record! {
    /// `extract`: a cohort's sequences through one parameter set, and the
    /// mask perturbation (`erode:1`, …) of a robustness study's extraction.
    pub struct ExtractParams {
        pub cohort: String,
        pub sequences: String,
        pub roi: String,
        pub settings: String,
        pub ibsi: bool,
        pub key: String,
        pub perturb: Option<String>,
        /// `--dvh`: the DVH metrics extracted instead of radiomics.
        pub dvh: Option<String>,
    }
}

metrics_record! {
    pub struct ExtractMetrics {
        pub failed: f64,
    }
}

params_record! {
    /// `table1`: the groups, the test policy and the table itself (JSON).
    pub struct Table1Params {
        pub groups: String,
        pub policy: String,
        pub categorical: String,
        pub continuous: String,
        pub stat: String,
        pub overall: bool,
        pub smd: bool,
        pub by: Option<String>,
        pub nonnormal: Option<String>,
        pub test: Option<String>,
        pub table_json: Option<String>,
    }
}

/// `table1`'s p-value of each variable.
pub const P_VALUE: Family = Family("p_value:");

params_record! {
    /// `chisq`, `fisher`, `mannwhitney`, `ttest`.
    pub struct TestParams {
        pub groups: String,
        pub variable: String,
        pub by: Option<String>,
        pub yates: Option<bool>,
        pub welch: Option<bool>,
        pub method: Option<String>,
    }
}

metrics_record! {
    pub struct TestResultMetrics {
        pub statistic: f64,
        pub p_value: f64,
    }
}

params_record! {
    /// `cv` and `holdout`: a pipeline on feature frames.
    pub struct ClassicalParams {
        pub label: String,
        pub simulated: bool,
        pub pipeline: String,
        pub steps: String,
        pub pipeline_json: String,
        pub inputs: Option<String>,
        pub folds: Option<usize>,
        pub repeats: Option<usize>,
        pub patients: Option<usize>,
        pub test: Option<String>,
        pub threshold_rule: Option<String>,
        pub patients_train: Option<usize>,
        pub patients_test: Option<usize>,
    }
}

impl ClassicalParams {
    /// The fields `cv` and `holdout` share; the rest unset.
    pub fn new(label: String, simulated: bool, pipeline: &str, steps: &str, pipeline_json: String) -> Self {
        ClassicalParams {
            label,
            simulated,
            pipeline: pipeline.to_string(),
            steps: steps.to_string(),
            pipeline_json,
            inputs: None,
            folds: None,
            repeats: None,
            patients: None,
            test: None,
            threshold_rule: None,
            patients_train: None,
            patients_test: None,
        }
    }
}

params_record! {
    /// A `cv` fold (`cv-fold`) or an audit arm's repeat.
    pub struct CvFoldParams {
        pub repeat: usize,
        pub fold: usize,
        pub train: usize,
        pub test: usize,
        pub selected: String,
        /// The unfinished `cv` run whose finished fold this one reused.
        pub reused_from: Option<i64>,
    }
}

metrics_record! {
    /// One fold's held-out metrics (`cv-fold`, `train-fold`), logged with the fold.
    pub struct FoldMetrics {
        pub auc: f64,
        pub acc: f64,
        pub f1: f64,
    }
}

metrics_record! {
    /// Cross-validated performance (`cv`, `train`, `train-config`).
    pub struct CvMetrics {
        pub auc_mean: f64,
        pub auc_sd: f64,
        pub auc_pooled: f64,
        pub acc_pooled: Option<f64>,
        pub f1_pooled: Option<f64>,
        pub selection_jaccard: Option<f64>,
        pub auc_pooled_ci_low: Option<f64>,
        pub auc_pooled_ci_high: Option<f64>,
    }
}

metrics_record! {
    /// Performance on a test cohort (`holdout`, `test`); a value that
    /// cannot be computed (no events) is left out.
    pub struct HeldOutMetrics {
        pub auc: Option<f64>,
        pub acc: Option<f64>,
        pub f1: Option<f64>,
        pub sensitivity: Option<f64>,
        pub specificity: Option<f64>,
        pub ppv: Option<f64>,
        pub npv: Option<f64>,
        pub brier: Option<f64>,
        pub threshold: Option<f64>,
        pub auc_ci_low: Option<f64>,
        pub auc_ci_high: Option<f64>,
        pub calibration_intercept: Option<f64>,
        pub calibration_slope: Option<f64>,
    }
}

params_record! {
    /// `train`: the model, the cohort, the grid, and (once chosen) the best configuration.
    pub struct TrainParams {
        pub label: String,
        pub model: String,
        pub preset: String,
        pub model_json: String,
        pub simulated: bool,
        pub cohort: String,
        pub inputs: String,
        pub folds: usize,
        pub grid: String,
        pub configs: usize,
        pub device: String,
        pub balance: String,
        pub patients: usize,
        pub resumed_from: Option<i64>,
        pub best_config: Option<usize>,
        pub best_train_json: Option<String>,
        pub best: Option<String>,
        /// `--nested`: the inner folds of each outer fold's grid search
        /// (absent: the configuration was chosen on the folds reported).
        pub nested_folds: Option<usize>,
    }
}

params_record! {
    /// One outer fold of `train --nested` (`train-outer`): the grid searched
    /// again by cross-validation inside its training rows.
    pub struct TrainOuterParams {
        pub fold: usize,
        pub train: usize,
        pub test: usize,
        pub inner_folds: usize,
        /// The configuration its inner folds chose.
        pub chosen_config: Option<usize>,
        /// That configuration's mean inner-fold AUC.
        pub inner_auc_mean: Option<f64>,
    }
}

metrics_record! {
    /// `train --nested`: the plain grid search beside the nested estimate.
    pub struct NestedMetrics {
        /// The best configuration's pooled out-of-fold AUC over the folds that chose it.
        pub selection_auc_pooled: f64,
        /// Its mean fold AUC.
        pub selection_auc_mean: f64,
        /// selection_auc_pooled − the nested pooled AUC.
        pub selection_optimism: f64,
    }
}

params_record! {
    /// One grid configuration of a `train` (`train-config`).
    pub struct TrainConfigParams {
        pub config: usize,
        pub lr: f64,
        pub batch: usize,
        pub epochs: usize,
        pub weight_decay: f64,
        /// Keras-style learning-rate decay (absent: none).
        pub lr_decay: Option<f64>,
    }
}

params_record! {
    /// One fold of one configuration (`train-fold`); `reused_from` when a
    /// resumed run copied a finished fold.
    pub struct TrainFoldParams {
        pub config: usize,
        pub fold: usize,
        pub train: usize,
        pub test: usize,
        pub reused_from: Option<i64>,
        pub selected: Option<String>,
        pub synthetic: Option<usize>,
        /// A fold continued from the unfinished fold `reused_from`'s checkpoint at this epoch.
        pub resumed_at_epoch: Option<usize>,
    }
}

params_record! {
    /// `test`: a trained model retrained on its whole cohort, applied to another.
    pub struct TestModelParams {
        pub label: String,
        pub model: String,
        pub preset: String,
        pub model_json: String,
        pub train_run: i64,
        pub simulated: bool,
        pub cohort: String,
        pub test: String,
        pub config: String,
        pub threshold_rule: String,
        pub device: String,
        pub patients_train: usize,
        pub patients_test: usize,
        /// The unfinished `test` run whose checkpoint this one continued.
        pub resumed_from: Option<i64>,
        /// The epoch of that checkpoint.
        pub resumed_at_epoch: Option<usize>,
    }
}

params_record! {
    /// `predict`: a saved model on a cohort.
    pub struct PredictParams {
        pub model_run: i64,
        pub model: String,
        pub label: String,
        pub cohort: String,
        pub device: String,
    }
}

params_record! {
    /// `report`: which runs, where.
    pub struct ReportParams {
        pub pseudonymised: bool,
        pub name: String,
        pub runs: String,
        pub out: String,
        /// Table 2's headline reading (`pooled` or `fold-mean`).
        pub table2: Option<String>,
        /// The table1 run shown as Table 1.
        pub table1: Option<i64>,
    }
}

params_record! {
    /// `audit leakage`: one pipeline, fold-safe against leaky.
    pub struct AuditLeakageParams {
        pub label: String,
        /// The pipeline's name, or the deep model's.
        pub pipeline: String,
        pub steps: String,
        pub inputs: String,
        pub folds: usize,
        pub repeats: usize,
        /// A deep model's declaration (absent for a pipeline).
        pub model_json: Option<String>,
        /// A deep model's training settings.
        pub train_json: Option<String>,
        pub device: Option<String>,
    }
}

metrics_record! {
    pub struct AuditLeakageMetrics {
        pub safe_auc_mean: Option<f64>,
        pub leaky_auc_mean: Option<f64>,
        pub optimism: Option<f64>,
        pub optimism_ci_low: Option<f64>,
        pub optimism_ci_high: Option<f64>,
    }
}

/// `audit leakage`'s mean AUC with the first N steps fitted outside the folds.
pub const LEAKY_AUC_OUTSIDE: Family = Family("leaky_auc_outside_");

params_record! {
    /// One arm of an audit (`audit-arm`): its AUCs are logged per fold.
    pub struct AuditArmParams {
        pub arm: String,
        pub leaky: bool,
        pub repeat: usize,
    }
}

params_record! {
    /// `audit published`: a table against the published values.
    pub struct AuditPublishedParams {
        pub table: String,
        pub against: String,
        pub tol: f64,
    }
}

metrics_record! {
    pub struct AuditPublishedMetrics {
        pub within: f64,
        pub outside: f64,
    }
}

params_record! {
    /// `sleep` (a test command).
    pub struct SleepParams {
        pub seconds: f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_what_it_wrote() {
        let p = TrainFoldParams {
            config: 1,
            fold: 4,
            train: 80,
            test: 20,
            reused_from: None,
            selected: Some("[\"a\"]".into()),
            synthetic: Some(3),
            resumed_at_epoch: Some(7),
        };
        let rows = p.to_params();
        assert!(rows.iter().all(|(k, _)| k != "reused_from"), "an absent option is not stored");
        assert_eq!(TrainFoldParams::from_params(9, &rows).unwrap(), p);
        let bad = vec![("config".to_string(), ParamValue::Text("x".into()))];
        let e = TrainFoldParams::from_params(9, &bad).unwrap_err().to_string();
        assert!(e.contains("run 9") && e.contains("`config`"), "{e}");
    }

    #[test]
    fn a_fold_runs_metric_is_its_value_and_a_plain_one_wins() {
        let m = |key: &str, value, step, fold| MetricRecord { key: key.into(), value, step, fold, incidental: false };
        let fold_run = vec![m("auc", 0.7, None, Some(3)), m("val_auc", 0.5, Some(1), Some(3))];
        assert_eq!(run_value(&fold_run, "auc"), Some(0.7));
        assert_eq!(run_value(&fold_run, "val_auc"), None, "a curve point is not the run's value");
        let parent = vec![m("auc", 0.9, None, None), m("auc", 0.6, None, Some(1))];
        assert_eq!(run_value(&parent, "auc"), Some(0.9));
        let f = FoldMetrics::from_metrics(1, &fold_run).unwrap();
        assert_eq!(f.auc, 0.7);
        assert!(f.acc.is_nan());
    }

    #[test]
    fn kinds_and_names_round_trip() {
        for k in RunKind::ALL {
            assert_eq!(RunKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(RunKind::parse("nope"), None);
    }
}
