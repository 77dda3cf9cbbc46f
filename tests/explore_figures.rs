//! The exploration figures (histogram, box and violin plots, scatter,
//! heatmap) checked by the structure of their SVG, not by pixels: how many
//! bars, boxes, points and cells of which colour, and which texts. Every
//! figure also renders to PNG, and missing values, empty groups and single
//! values draw without failing.

use radose::render::figures::{Figure, Group};

/// The first two fold colours, which the first two groups take.
const BLUE: &str = "#1F77B4";
const GREEN: &str = "#2CA02C";
/// A NaN heatmap cell.
const GREY: &str = "#AAAAAA";

/// Every `<name …>` tag in `svg`.
fn tags<'s>(svg: &'s str, name: &str) -> Vec<&'s str> {
    let open = format!("<{name} ");
    svg.match_indices(&open)
        .map(|(i, _)| {
            let rest = &svg[i..];
            &rest[..=rest.find('>').expect("a closed tag")]
        })
        .collect()
}

/// The value of attribute `name` in `tag`.
fn attr<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// The `<name>` tags whose attributes include every one of `wanted`.
fn matching<'s>(svg: &'s str, name: &str, wanted: &[(&str, &str)]) -> Vec<&'s str> {
    tags(svg, name).into_iter().filter(|t| wanted.iter().all(|(k, v)| attr(t, k) == Some(*v))).collect()
}

/// Whether `svg` has a `<text>` whose content is exactly `content`.
fn has_text(svg: &str, content: &str) -> bool {
    svg.contains(&format!(">\n{content}\n</text>"))
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn histogram() -> Figure {
    Figure::Histogram {
        title: "Tumour volume by outcome".into(),
        column: "volume_cc".into(),
        groups: vec![
            Group { label: "yes".into(), values: vec![1.0, 2.0, 2.0, 3.0, 4.0, f64::NAN] },
            Group { label: "no".into(), values: vec![2.0, 3.0, 5.0, 5.0, 6.0] },
        ],
        bins: 5,
    }
}

/// Two features × two groups; the first group's values hold outliers.
fn distribution(violin: bool) -> Figure {
    let tens: Vec<f64> = (1..=9).map(f64::from).collect();
    let with = |extra: &[f64]| tens.iter().chain(extra).copied().collect::<Vec<f64>>();
    Figure::Distribution {
        title: "Features by outcome".into(),
        features: strings(&["age", "dose_mean"]),
        groups: strings(&["nn = 0", "nn = 1"]),
        values: vec![
            // 100 is beyond q3 + 1.5 IQR; 10…14 has none.
            vec![with(&[100.0]), vec![10.0, 11.0, 12.0, 13.0, 14.0]],
            // −20 and 100 are both outliers; a group of one repeated value has none.
            vec![with(&[-20.0, 100.0]), vec![5.0, 5.0, 5.0, f64::NAN]],
        ],
        violin,
        y_label: "value".into(),
    }
}

fn scatter() -> Figure {
    Figure::Scatter {
        title: "Dose against volume".into(),
        x: "volume_cc".into(),
        y: "dose_mean".into(),
        groups: vec![
            ("A".into(), vec![(1.0, 2.0), (2.0, 3.5), (3.0, f64::NAN), (4.0, 1.0)]),
            ("B".into(), vec![(0.5, 0.5), (1.5, 2.5), (2.5, 1.5), (3.5, 3.0), (4.5, 4.0)]),
        ],
    }
}

fn heatmap() -> Figure {
    Figure::Heatmap {
        title: "Correlations".into(),
        labels: strings(&["T1_firstorder_Mean", "dose_D95", "patient_age"]),
        values: vec![vec![1.0, 0.5, f64::NAN], vec![0.5, 1.0, -0.25], vec![f64::NAN, -0.25, 1.0]],
        lo: -1.0,
        hi: 1.0,
    }
}

#[test]
fn a_histogram_of_two_groups_with_five_bins_has_ten_bars() {
    let svg = histogram().svg().unwrap();
    // Five bars of each group's colour, and one more: its legend swatch.
    for colour in [BLUE, GREEN] {
        let bars = matching(&svg, "rect", &[("fill", colour), ("opacity", "0.45")]);
        assert_eq!(bars.len(), 6, "{colour}: {bars:#?}");
    }
    // Shared bins 1…6 by 1: "yes" counts 1 2 1 1 0, "no" 0 1 1 0 3.
    let height = |colour: &str| -> Vec<i32> {
        matching(&svg, "rect", &[("fill", colour), ("opacity", "0.45")])[..5]
            .iter()
            .map(|t| attr(t, "height").unwrap().parse().unwrap())
            .collect()
    };
    let (yes, no) = (height(BLUE), height(GREEN));
    let one = yes[0];
    assert!(one > 10, "{yes:?}");
    for (h, count) in yes.iter().zip([1, 2, 1, 1, 0]).chain(no.iter().zip([0, 1, 1, 0, 3])) {
        assert!((h - count * one).abs() <= 2, "bar of {count} is {h} px, one is {one}: {yes:?} {no:?}");
    }
    assert!(has_text(&svg, "yes (n = 5, 1 missing)") && has_text(&svg, "no (n = 5)"), "legend");
    assert!(has_text(&svg, "volume_cc") && has_text(&svg, "count"), "axis labels");
    assert!(has_text(&svg, "Tumour volume by outcome"));
}

#[test]
fn a_box_plot_has_a_box_per_feature_and_group_and_its_outliers() {
    let svg = distribution(false).svg().unwrap();
    // Outlined boxes (the legend's swatches are filled, not outlined).
    for colour in [BLUE, GREEN] {
        assert_eq!(matching(&svg, "rect", &[("fill", "none"), ("stroke", colour)]).len(), 2, "{colour} boxes");
    }
    // Outliers are open circles: 100 for age, −20 and 100 for dose, all in the first group.
    assert_eq!(matching(&svg, "circle", &[("fill", "none"), ("stroke", BLUE)]).len(), 3);
    assert_eq!(matching(&svg, "circle", &[("fill", "none"), ("stroke", GREEN)]).len(), 0);
    // The lower outlier is drawn below the upper ones.
    let ys: Vec<i32> = matching(&svg, "circle", &[("fill", "none"), ("stroke", BLUE)])
        .iter()
        .map(|t| attr(t, "cy").unwrap().parse().unwrap())
        .collect();
    assert!(ys[0] == ys[2] && ys[1] > ys[0], "{ys:?}");
    for text in ["age", "dose_mean", "nn = 0", "nn = 1", "value", "Features by outcome"] {
        assert!(has_text(&svg, text), "{text}");
    }
}

#[test]
fn a_violin_plot_has_an_outline_per_group_with_spread_and_every_median_marked() {
    let svg = distribution(true).svg().unwrap();
    // Three groups have a density; the repeated value (no spread) is a flat line.
    assert_eq!(tags(&svg, "polygon").len(), 3);
    assert_eq!(matching(&svg, "circle", &[("fill", "#FFFFFF")]).len(), 4, "a median dot per violin");
    assert!(has_text(&svg, "nn = 0") && has_text(&svg, "dose_mean"));
}

#[test]
fn a_scatter_has_a_marker_per_point_with_both_coordinates() {
    let svg = scatter().svg().unwrap();
    // Three of A's four points have both coordinates, all five of B's; one more each in the legend.
    assert_eq!(matching(&svg, "circle", &[("fill", BLUE)]).len(), 3 + 1);
    assert_eq!(matching(&svg, "circle", &[("fill", GREEN)]).len(), 5 + 1);
    assert!(has_text(&svg, "A (n = 3, 1 missing)") && has_text(&svg, "B (n = 5)"), "legend");
    assert!(has_text(&svg, "volume_cc") && has_text(&svg, "dose_mean"), "axis labels");
}

#[test]
fn a_heatmap_of_three_labels_has_nine_cells_named_and_nan_cells_grey() {
    let svg = heatmap().svg().unwrap();
    let cells: Vec<&str> = tags(&svg, "rect").into_iter().filter(|t| attr(t, "fill") != Some("#FFFFFF")).collect();
    assert_eq!(cells.len(), 9, "{cells:#?}");
    assert_eq!(matching(&svg, "rect", &[("fill", GREY)]).len(), 2, "the two NaN cells");
    // The scale's ends: 1 is dark red, and the diagonal is three cells of it.
    assert_eq!(matching(&svg, "rect", &[("fill", "#67001F")]).len(), 3);
    // Cells are square, to the pixel.
    let px = |t: &str, a: &str| attr(t, a).unwrap().parse::<i32>().unwrap();
    assert!(cells.iter().all(|t| (px(t, "width") - px(t, "height")).abs() <= 1), "{cells:#?}");
    for name in ["T1_firstorder_Mean", "dose_D95", "patient_age"] {
        assert_eq!(svg.matches(&format!(">\n{name}\n</text>")).count(), 2, "{name} names a row and a column");
    }
    // The colour bar: its ends labelled, its strips polygons.
    assert!(has_text(&svg, "-1.0") && has_text(&svg, "1.0"));
    assert!(tags(&svg, "polygon").len() >= 32);
}

#[test]
fn a_large_heatmap_shows_index_ticks_instead_of_names() {
    let n = 60;
    let labels: Vec<String> = (0..n).map(|i| format!("feature_{i}")).collect();
    let values: Vec<Vec<f64>> =
        (0..n).map(|i| (0..n).map(|j| if i == j { 1.0 } else { ((i * j) % 7) as f64 / 7.0 - 0.5 }).collect()).collect();
    let fig = Figure::Heatmap { title: "Many".into(), labels, values, lo: -1.0, hi: 1.0 };
    let svg = fig.svg().unwrap();
    assert_eq!(tags(&svg, "rect").into_iter().filter(|t| attr(t, "fill") != Some("#FFFFFF")).count(), n * n);
    assert!(!svg.contains("feature_"), "no names past 40 rows");
    assert!(has_text(&svg, "10") && has_text(&svg, "60"), "index ticks");
    let (w, h) = fig.size();
    assert!(w <= 1300 && h <= 1100, "the size is capped: {w}×{h}");
}

#[test]
fn long_feature_names_are_abbreviated_and_rotated() {
    let features: Vec<String> = (0..30).map(|i| format!("T1_original_glszm_SizeZoneNonUniformity_{i}")).collect();
    let values = features.iter().map(|_| vec![vec![0.1, 0.5, 0.9], vec![0.2, 0.4]]).collect();
    let fig = Figure::Distribution {
        title: "Standardised features".into(),
        features,
        groups: strings(&["no", "yes"]),
        values,
        violin: false,
        y_label: "z-score".into(),
    };
    let svg = fig.svg().unwrap();
    let names: Vec<&str> = tags(&svg, "text").into_iter().filter(|t| t.contains("rotate(270")).collect();
    assert!(names.len() >= 30, "{} rotated texts", names.len());
    assert!(has_text(&svg, "T1_origin…neNonUniformity_29"), "abbreviated to 28 characters, the end kept");
    assert_eq!(matching(&svg, "rect", &[("fill", "none"), ("stroke", BLUE)]).len(), 30);
}

#[test]
fn empty_groups_and_single_values_draw_without_failing() {
    let empty_hist = Figure::Histogram {
        title: "Nothing here".into(),
        column: "x".into(),
        groups: vec![
            Group { label: "all".into(), values: vec![f64::NAN] },
            Group { label: "none".into(), values: vec![] },
        ],
        bins: 0,
    };
    let one_value = Figure::Histogram {
        title: "One value".into(),
        column: "x".into(),
        groups: vec![Group { label: "all".into(), values: vec![3.0] }],
        bins: 4,
    };
    let empty_box = Figure::Distribution {
        title: "No groups".into(),
        features: strings(&["a"]),
        groups: vec![],
        values: vec![vec![]],
        violin: true,
        y_label: "v".into(),
    };
    let single_box = Figure::Distribution {
        title: "Single values".into(),
        features: strings(&["a", "b"]),
        groups: strings(&["all"]),
        values: vec![vec![vec![2.0]], vec![vec![f64::NAN]]],
        violin: true,
        y_label: "v".into(),
    };
    let empty_scatter = Figure::Scatter { title: "No points".into(), x: "x".into(), y: "y".into(), groups: vec![] };
    let one_point = Figure::Scatter {
        title: "One point".into(),
        x: "x".into(),
        y: "y".into(),
        groups: vec![("all".into(), vec![(1.0, 1.0)])],
    };
    let empty_heatmap =
        Figure::Heatmap { title: "No features".into(), labels: vec![], values: vec![], lo: 0.0, hi: 0.0 };
    for fig in [&empty_hist, &empty_box, &empty_scatter, &empty_heatmap] {
        let svg = fig.svg().unwrap();
        assert!(has_text(&svg, "no values to draw"), "{fig:?}");
    }
    for fig in [&one_value, &single_box, &one_point] {
        let svg = fig.svg().unwrap();
        assert!(!has_text(&svg, "no values to draw"), "{fig:?}");
    }
    assert!(has_text(&empty_hist.svg().unwrap(), "Nothing here"), "the title of an empty panel");
    let one = one_value.svg().unwrap();
    assert_eq!(matching(&one, "rect", &[("fill", BLUE), ("opacity", "0.45")]).len(), 4 + 1);
}

#[test]
fn every_exploration_figure_renders_to_png() {
    let dir = tempfile::tempdir().unwrap();
    for (name, fig) in [
        ("hist", histogram()),
        ("box", distribution(false)),
        ("violin", distribution(true)),
        ("scatter", scatter()),
        ("heatmap", heatmap()),
    ] {
        let path = dir.path().join(format!("{name}.png"));
        fig.png(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{name}");
    }
}

#[test]
fn the_drawn_data_is_json_with_missing_values_as_null() {
    let data = histogram().explore_data().unwrap();
    assert_eq!(data["kind"], "histogram");
    assert_eq!(data["bins"], 5);
    assert_eq!(data["groups"][0]["label"], "yes");
    assert!(data["groups"][0]["values"][5].is_null());
    assert_eq!(distribution(true).explore_data().unwrap()["kind"], "violin");
    assert_eq!(heatmap().explore_data().unwrap()["values"][0][2], serde_json::Value::Null);
    assert_eq!(scatter().explore_data().unwrap()["groups"][0][0], "A");
}
