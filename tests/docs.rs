// SPDX-License-Identifier: MPL-2.0

//! The README and `docs/` as a reader meets them: every link leads somewhere (a file that
//! exists, a heading that is there), and every launch line they quote parses against the
//! plugin under test.

mod common;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, deploy/README.md and every Markdown file of docs/.
fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ is there")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    docs.insert(0, root().join("README.md"));
    docs.push(root().join("deploy/README.md"));
    docs
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The targets of the Markdown links and images of `text`: `[label](target)`.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            targets.push(rest[..end].to_string());
        }
    }
    targets
}

/// GitHub's anchor of a heading: lower case, punctuation other than '-' and '_' dropped,
/// spaces turned into '-'.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut in_code = false;
    text.lines()
        .filter(|l| {
            if l.starts_with("```") {
                in_code = !in_code;
            }
            !in_code && l.starts_with('#')
        })
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_link_in_the_readme_and_docs_resolves() {
    let mut checked = 0;
    let mut broken = Vec::new();
    for doc in documents() {
        let text = read(&doc);
        let dir = doc.parent().expect("a document lies in a folder");
        for target in link_targets(&text) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let file = if path.is_empty() {
                doc.clone()
            } else {
                dir.join(path)
            };
            checked += 1;
            if !file.exists() {
                broken.push(format!("{}: {target}: no such file", doc.display()));
                continue;
            }
            if !fragment.is_empty() && !anchors(&read(&file)).iter().any(|a| a == fragment) {
                broken.push(format!("{}: {target}: no such heading", doc.display()));
            }
        }
    }
    assert!(
        checked >= 10,
        "only {checked} links found: is the parser broken?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The `gst-launch-1.0` lines of the indented code blocks of `text`, continuation lines
/// joined, without the program and its options.
fn launch_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let code = line.strip_prefix("    ").map(str::trim);
        match (current.as_mut(), code) {
            (Some(joined), Some(code)) => joined.push_str(code),
            (None, Some(code)) if code.starts_with("gst-launch-1.0 ") => {
                current = Some(code.to_string());
            }
            _ => {}
        }
        if let Some(joined) = current.as_mut() {
            if joined.ends_with('\\') {
                joined.pop();
                joined.push(' ');
                continue;
            }
            let words: Vec<&str> = joined.split_whitespace().skip(1).collect();
            let start = words.iter().position(|w| !w.starts_with('-')).unwrap_or(0);
            lines.push(words[start..].join(" "));
            current = None;
        }
    }
    lines
}

#[test]
fn every_launch_line_in_the_readme_and_docs_parses() {
    common::init();
    let mut count = 0;
    for doc in documents() {
        for line in launch_lines(&read(&doc)) {
            count += 1;
            if let Err(err) = gst::parse::launch(&line) {
                panic!("{}: {line}\n{err}", doc.display());
            }
        }
    }
    // Two in the README, three in docs/elements.md.
    assert!(count >= 5, "only {count} launch lines found");
}

#[test]
fn the_parsers_find_what_they_are_meant_to() {
    let text = "Intro [a](docs/x.md#one-two) and ![b](img.png).\n\n\
                ## One, two\n\n    gst-launch-1.0 -e -q fakesrc ! \\\n        fakesink\n\
                \n    not a launch line\n";
    assert_eq!(link_targets(text), ["docs/x.md#one-two", "img.png"]);
    assert_eq!(anchors(text), ["one-two"]);
    assert_eq!(launch_lines(text), ["fakesrc ! fakesink"]);
    assert_eq!(
        anchor("`als-rtsp`: an RTSP camera in, the annotated stream out"),
        "als-rtsp-an-rtsp-camera-in-the-annotated-stream-out"
    );
}
