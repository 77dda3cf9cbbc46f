//! Script variables and profiles. A script declares them in `#%` comment
//! lines (so the shell grammar is untouched):
//!
//! ```text
//! #% default DATA=data/paper SEED=7 INPUT=20x24x24 EPOCHS=10
//! #% profile quick EPOCHS=10
//! #% profile paper INPUT=80x120x120 EPOCHS=300 SIZE=paper
//! #% use quick
//! ```
//!
//! `${NAME}` anywhere else in the script is replaced by the value: the
//! defaults, then the chosen profile's values (`--profile`, else the one
//! named by `#% use`), then `--set NAME=VALUE` from the command line. A value
//! may refer to other variables. `${PROFILE}` names the chosen profile and
//! `${SCRIPT_DIR}` the folder the script is in (as it was named, so a
//! script finds its own files from any working folder).
//! Unknown names, profiles and `--set` keys are errors naming them.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// The variables a script run uses, after profiles and overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    pub profile: Option<String>,
    pub values: BTreeMap<String, String>,
}

impl Resolved {
    /// `NAME=VALUE …`, for logs and reports.
    pub fn describe(&self) -> String {
        self.values.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }
}

fn pairs(origin: &str, line_no: usize, words: &[&str]) -> Result<Vec<(String, String)>> {
    words
        .iter()
        .map(|w| {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| Error::invalid(format!("{origin}:{line_no}: `{w}` is not NAME=VALUE"), None))?;
            if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::invalid(format!("{origin}:{line_no}: `{k}` is not a variable name"), None));
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// Reads the `#%` declarations and expands `${NAME}` in the other lines.
/// Without any declaration and `${`, the text is returned unchanged.
pub fn expand(
    text: &str,
    origin: &str,
    script_dir: Option<&str>,
    profile: Option<&str>,
    sets: &[(String, String)],
) -> Result<(String, Resolved)> {
    let mut defaults: Vec<(String, String)> = Vec::new();
    let mut profiles: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut chosen: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("#%") else { continue };
        let words: Vec<&str> = rest.split_whitespace().collect();
        match words.first().copied() {
            Some("default") => defaults.extend(pairs(origin, i + 1, &words[1..])?),
            Some("profile") => {
                let name = words
                    .get(1)
                    .ok_or_else(|| Error::invalid(format!("{origin}:{}: `#% profile` needs a name", i + 1), None))?;
                profiles.entry(name.to_string()).or_default().extend(pairs(origin, i + 1, &words[2..])?);
            }
            Some("use") => chosen = words.get(1).map(|s| s.to_string()),
            _ => {
                return Err(Error::invalid(
                    format!("{origin}:{}: unknown declaration `#%{rest}`", i + 1),
                    Some("use `#% default NAME=VALUE`, `#% profile NAME NAME=VALUE…` or `#% use PROFILE`"),
                ));
            }
        }
    }
    let profile = profile.map(str::to_string).or(chosen);
    let mut values: BTreeMap<String, String> = defaults.into_iter().collect();
    if let Some(dir) = script_dir {
        values.entry("SCRIPT_DIR".into()).or_insert_with(|| dir.to_string());
    }
    if let Some(p) = &profile {
        let Some(overrides) = profiles.get(p) else {
            return Err(Error::invalid(
                format!("{origin} has no profile `{p}`"),
                Some(&format!("profiles: {}", profiles.keys().cloned().collect::<Vec<_>>().join(", "))),
            ));
        };
        for (k, v) in overrides {
            values.insert(k.clone(), v.clone());
        }
        values.insert("PROFILE".into(), p.clone());
    }
    for (k, v) in sets {
        if !values.contains_key(k) {
            return Err(Error::invalid(
                format!("--set {k}: {origin} declares no variable `{k}`"),
                Some(&format!("variables: {}", values.keys().cloned().collect::<Vec<_>>().join(", "))),
            ));
        }
        values.insert(k.clone(), v.clone());
    }
    // Values may refer to other variables (a few levels deep).
    for _ in 0..8 {
        let snapshot = values.clone();
        let mut changed = false;
        for v in values.values_mut() {
            let next = substitute(v, &snapshot, origin, 0)?;
            changed |= next != *v;
            *v = next;
        }
        if !changed {
            break;
        }
    }
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
        } else {
            out.push_str(&substitute(line, &values, origin, i + 1)?);
        }
        out.push('\n');
    }
    Ok((out, Resolved { profile, values }))
}

fn substitute(line: &str, values: &BTreeMap<String, String>, origin: &str, line_no: usize) -> Result<String> {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(Error::invalid(format!("{origin}:{line_no}: `${{` without a closing `}}`"), None));
        };
        let name = &after[..end];
        match values.get(name) {
            Some(v) => out.push_str(v),
            None => {
                return Err(Error::invalid(
                    format!("{origin}:{line_no}: unknown variable `{name}`"),
                    Some(&format!(
                        "declare it with `#% default {name}=…`; declared: {}",
                        values.keys().cloned().collect::<Vec<_>>().join(", ")
                    )),
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "#% default DATA=data EPOCHS=10 A=${DATA}/A\n#% profile paper EPOCHS=300\n#% use quick\n#% profile quick\nload A ${A}\ntrain M on A --grid epochs=${EPOCHS} # ${PROFILE}\n";

    #[test]
    fn profiles_defaults_and_sets() {
        let (text, r) = expand(SCRIPT, "s", None, None, &[]).unwrap();
        assert!(text.contains("load A data/A\n"), "{text}");
        assert!(text.contains("epochs=10 # quick"), "{text}");
        assert!(text.contains("#% default DATA=data"), "comment lines are left alone: {text}");
        assert_eq!(r.profile.as_deref(), Some("quick"));
        let (text, _) = expand(SCRIPT, "s", None, Some("paper"), &[("DATA".into(), "/x".into())]).unwrap();
        assert!(text.contains("load A /x/A\n") && text.contains("epochs=300"), "{text}");
        // The script's own folder, as named.
        let (text, _) = expand("report --published ${SCRIPT_DIR}/p.csv\n", "e/s", Some("e"), None, &[]).unwrap();
        assert_eq!(text, "report --published e/p.csv\n");
    }

    #[test]
    fn mistakes_are_named() {
        let e = expand(SCRIPT, "s", None, Some("fast"), &[]).unwrap_err().to_string();
        assert!(e.contains("no profile `fast`"), "{e}");
        let e = expand(SCRIPT, "s", None, None, &[("EPOCH".into(), "1".into())]).unwrap_err().to_string();
        assert!(e.contains("no variable `EPOCH`"), "{e}");
        let e = expand("load A ${NOPE}\n", "s", None, None, &[]).unwrap_err().to_string();
        assert!(e.contains("s:1: unknown variable `NOPE`"), "{e}");
        assert_eq!(expand("load A x\n", "s", None, None, &[]).unwrap().0, "load A x\n");
    }
}
