//! Commands: each is a small declared unit — a signature (arguments, flags,
//! help, examples) and a `run` — one per file, all registered in
//! [`registry`]. Nothing below this module knows which commands exist: the
//! registry is handed to the session (`Session::new(store, registry)`).

mod audit_leakage;
mod audit_published;
mod bench;
mod chisq;
mod cohort_import;
mod columns;
mod compare;
mod corr;
mod cv;
mod describe;
mod drop;
mod dvh;
mod extract;
mod filter;
mod fisher;
mod frames;
mod head;
mod help;
mod history;
mod holdout;
mod icc;
mod join;
mod load;
mod mannwhitney;
mod model;
mod mutate;
mod notebook_replay;
mod notebook_save;
mod pca;
mod pipeline;
mod plot_box;
mod plot_calibration;
mod plot_corr;
mod plot_curves;
mod plot_dvh;
mod plot_features;
mod plot_hist;
mod plot_roc;
mod plot_scatter;
mod predict;
mod preprocess;
mod radiomics;
mod report;
mod run;
mod runs;
mod save;
mod select;
mod show;
mod simulate;
mod sleep;
mod smote;
mod sql;
mod table1;
mod test_model;
mod train;
mod ttest;
mod ui;
mod volume;
mod worker;

use crate::session::Registry;

/// Every command, in the order `help` lists them.
pub fn registry() -> Registry {
    Registry::new(vec![
        &simulate::Simulate,
        &load::Load,
        &volume::VolumeCmd,
        &dvh::Dvh,
        &preprocess::Preprocess,
        &radiomics::Radiomics,
        &extract::Extract,
        &frames::Frames,
        &show::Show,
        &head::Head,
        &columns::Columns,
        &describe::Describe,
        &filter::Filter,
        &mutate::Mutate,
        &join::Join,
        &sql::Sql,
        &drop::Drop,
        &table1::Table1,
        &chisq::ChiSquare,
        &cohort_import::CohortImport,
        &fisher::Fisher,
        &mannwhitney::MannWhitney,
        &ttest::TTest,
        &pipeline::PipelineCmd,
        &cv::Cv,
        &holdout::Holdout,
        &model::ModelCmd,
        &train::Train,
        &worker::Worker,
        &test_model::TestModel,
        &predict::Predict,
        &bench::Bench,
        &select::Select,
        &pca::Pca,
        &smote::Smote,
        &report::Report,
        &audit_leakage::AuditLeakage,
        &audit_published::AuditPublished,
        &plot_roc::PlotRoc,
        &plot_calibration::PlotCalibration,
        &plot_curves::PlotCurves,
        &plot_dvh::PlotDvh,
        &plot_hist::PlotHist,
        &plot_box::PlotBox,
        &plot_box::PlotViolin,
        &plot_scatter::PlotScatter,
        &plot_corr::PlotCorr,
        &plot_features::PlotFeatures,
        &corr::Corr,
        &icc::Icc,
        &runs::Runs,
        &run::Run,
        &compare::Compare,
        &compare::Best,
        &ui::Ui,
        &history::History,
        &save::Save,
        &notebook_save::NotebookSave,
        &notebook_replay::NotebookReplay,
        &sleep::Sleep,
        &help::Help,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_help_and_a_unique_name() {
        let mut names = std::collections::HashSet::new();
        for c in registry().all() {
            let sig = c.signature();
            assert!(names.insert(sig.name), "duplicate command {}", sig.name);
            assert!(!sig.description.is_empty());
            assert!(!sig.examples.is_empty(), "{} has no example", sig.name);
            for f in &sig.flags {
                assert!(!f.help.is_empty(), "{} --{} has no help", sig.name, f.name);
            }
        }
    }
}
