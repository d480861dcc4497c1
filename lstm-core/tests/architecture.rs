//! The crate's map (lib.rs) holds: each tier uses only the tiers above it, so dependencies flow
//! one way (math ← layers ← training ← support) and no module imports one that imports it back.

use std::path::{Path, PathBuf};

const TIERS: [&str; 4] = ["math", "layers", "training", "support"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its `#[cfg(test)]` module (tests may use anything).
fn code_without_tests(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[test]
fn each_tier_uses_only_the_tiers_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = vec![];
    for (rank, tier) in TIERS.iter().enumerate() {
        let mut files = vec![];
        rust_files(&src.join(tier), &mut files);
        assert!(!files.is_empty(), "src/{tier}/ exists");
        for file in files {
            let code = code_without_tests(&file);
            for lower in &TIERS[rank + 1..] {
                // Paths into a lower tier, by its folder or by the root re-exports of its modules.
                let mut names = vec![lower.to_string()];
                let mut lower_files = vec![];
                rust_files(&src.join(lower), &mut lower_files);
                // Every module of the tier: file stems and folders (`support/data/` is `data`).
                for f in &lower_files {
                    let relative = f.strip_prefix(src.join(lower)).unwrap().with_extension("");
                    names.extend(
                        relative
                            .components()
                            .map(|c| c.as_os_str().to_string_lossy().into_owned())
                            .filter(|n| n != "mod"),
                    );
                }
                for name in names {
                    if code.contains(&format!("crate::{name}::"))
                        || code.contains(&format!("crate::{name};"))
                    {
                        violations.push(format!(
                            "{} ({tier}) uses crate::{name} ({lower})",
                            file.strip_prefix(&src).unwrap().display()
                        ));
                    }
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_base_modules_use_no_tier() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for base in ["error.rs", "check.rs", "display.rs"] {
        let code = code_without_tests(&src.join(base));
        for tier in TIERS {
            assert!(
                !code.contains(&format!("crate::{tier}")),
                "{base} uses {tier}"
            );
        }
    }
}
