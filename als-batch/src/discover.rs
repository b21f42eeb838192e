// SPDX-License-Identifier: MPL-2.0

//! Which files of the input folder are videos, in which order, and where their outputs go.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Extensions (lower case) of the containers taken as videos; anything else is ignored.
pub const VIDEO_EXTENSIONS: [&str; 10] = [
    "mp4", "mkv", "avi", "mov", "webm", "m4v", "mpg", "mpeg", "ts", "ogv",
];

pub fn is_video(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// One video to process: its path relative to the input folder and its outputs' paths
/// relative to the output folder, without extension (`.jsonl` / `.mp4` are added).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Video {
    pub rel: PathBuf,
    pub out_stem: PathBuf,
}

impl Video {
    /// The file's name in the summary: the relative path with `/` separators.
    pub fn name(&self) -> String {
        self.rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }

    pub fn output(&self, out_dir: &Path, extension: &str) -> PathBuf {
        let mut name = self.out_stem.as_os_str().to_os_string();
        name.push(".");
        name.push(extension);
        out_dir.join(name)
    }
}

/// `path` with `.part` appended: where an output is written until it is complete.
pub fn part(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".part");
    PathBuf::from(name)
}

/// Every video under `root` (recursively, symbolic links followed, `skip` left out: the
/// output folder when it lies inside the input), sorted by path.
pub fn find_videos(root: &Path, skip: Option<&Path>) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    // Folders already listed, by their real path: a link back up the tree is listed once.
    let mut visited = std::collections::HashSet::new();
    while let Some(dir) = pending.pop() {
        if skip.is_some_and(|s| same_file(s, &dir)) {
            continue;
        }
        if !visited.insert(dir.canonicalize().unwrap_or_else(|_| dir.clone())) {
            continue;
        }
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| format!("could not list {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("could not list {}: {e}", dir.display()))?;
            let path = entry.path();
            // Follows links; a dangling one is neither and is ignored.
            if path.is_dir() {
                pending.push(path);
            } else if path.is_file() && is_video(&path) {
                let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                found.push(rel);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The videos with their output names, collision-free and decided by the list alone (so every
/// run and every shard over the same folder agrees): the relative path with the extension
/// replaced (`a/b.mp4` gives `a/b.jsonl`), or, for each video whose name would clash with
/// another video's or with a folder of the output tree, the whole relative path
/// (`a.mp4.jsonl`, `a.mkv.jsonl`). Keeping the extension can itself clash (`a.mp4.mkv` would
/// take `a.mp4.jsonl` while `a.mp4` keeps its extension), so the rule is applied until nothing
/// clashes; it ends because relative paths are unique.
pub fn plan(rels: Vec<PathBuf>) -> Vec<Video> {
    // The folders the outputs mirror: an output file may not take a folder's name.
    let folders: HashSet<PathBuf> = rels
        .iter()
        .flat_map(|rel| rel.ancestors().skip(1))
        .filter(|a| !a.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .collect();
    let clashes_with_a_folder = |stem: &Path| {
        ["jsonl", "mp4"].iter().any(|extension| {
            let mut name = stem.as_os_str().to_os_string();
            name.push(".");
            name.push(extension);
            folders.contains(Path::new(&name))
        })
    };
    let stems: Vec<PathBuf> = rels.iter().map(|rel| rel.with_extension("")).collect();
    let mut keep_extension = vec![false; rels.len()];
    loop {
        let names: Vec<&Path> = (0..rels.len())
            .map(|i| {
                if keep_extension[i] {
                    rels[i].as_path()
                } else {
                    stems[i].as_path()
                }
            })
            .collect();
        let mut uses: HashMap<&Path, usize> = HashMap::new();
        for name in &names {
            *uses.entry(name).or_default() += 1;
        }
        // Every video that uses its stem and clashes switches at once, so the result does
        // not depend on the order of the list.
        let switch: Vec<usize> = (0..rels.len())
            .filter(|&i| !keep_extension[i])
            .filter(|&i| uses[names[i]] > 1 || clashes_with_a_folder(names[i]))
            .collect();
        if switch.is_empty() {
            break;
        }
        for i in switch {
            keep_extension[i] = true;
        }
    }
    rels.into_iter()
        .zip(stems)
        .zip(keep_extension)
        .map(|((rel, stem), keep)| {
            let out_stem = if keep { rel.clone() } else { stem };
            Video { rel, out_stem }
        })
        .collect()
}

/// `--shard K/N`: the part K (from 0) of N of a list, every N-th item from the K-th.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text} is not a shard K/N with 0 <= K < N");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }

    pub fn select<T>(&self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index)
            .map(|(_, item)| item)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("als-batch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn only_video_extensions_count() {
        for yes in ["a.mp4", "b/c.MKV", "x.webm", "y.ts", "z.ogv", "w.MPEG"] {
            assert!(is_video(Path::new(yes)), "{yes}");
        }
        for no in ["notes.txt", "mp4", "a.mp4.part", "a.jsonl", ".mkv", "noext"] {
            assert!(!is_video(Path::new(no)), "{no}");
        }
    }

    #[test]
    fn finds_videos_recursively_sorted_and_skips_the_output_folder() {
        let dir = scratch("find");
        for f in [
            "b.mp4",
            "a/z.mkv",
            "a/notes.txt",
            "c.MOV",
            "out/old.mp4",
            "a/b/x.avi",
        ] {
            let path = dir.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"").unwrap();
        }
        let found = find_videos(&dir, Some(&dir.join("out"))).unwrap();
        let expect: Vec<PathBuf> = ["a/b/x.avi", "a/z.mkv", "b.mp4", "c.MOV"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(found, expect);
        assert_eq!(find_videos(&dir, None).unwrap().len(), 5);
        // A link back up the tree does not list the videos again.
        std::os::unix::fs::symlink("..", dir.join("a/loop")).unwrap();
        assert_eq!(find_videos(&dir, Some(&dir.join("out"))).unwrap(), expect);
        let err = find_videos(&dir.join("missing"), None).unwrap_err();
        assert!(err.contains("missing"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn outputs_replace_the_extension_unless_two_videos_would_collide() {
        let videos = plan(
            ["a.mp4", "a.mkv", "sub/b.mov", "c.d.webm"]
                .map(PathBuf::from)
                .to_vec(),
        );
        let out = Path::new("/o");
        let jsonl: Vec<PathBuf> = videos.iter().map(|v| v.output(out, "jsonl")).collect();
        assert_eq!(
            jsonl,
            [
                "/o/a.mp4.jsonl",
                "/o/a.mkv.jsonl",
                "/o/sub/b.jsonl",
                "/o/c.d.jsonl"
            ]
            .map(PathBuf::from)
            .to_vec()
        );
        assert_eq!(videos[2].name(), "sub/b.mov");
        assert_eq!(part(&jsonl[2]), PathBuf::from("/o/sub/b.jsonl.part"));
    }

    #[test]
    fn outputs_never_collide_even_when_a_kept_extension_would() {
        let rels = [
            "a.mp4",
            "a.mkv",
            "a.mp4.mkv",
            "b.mp4",
            "b.mp4.mkv",
            "c.mp4",
            "c.jsonl/d.mp4",
            "e.mkv",
            "e.mp4",
            "e.mkv.webm",
            "e.mkv.webm.ts",
        ];
        let videos = plan(rels.map(PathBuf::from).to_vec());
        let out = Path::new("/o");
        let names: Vec<String> = videos
            .iter()
            .map(|v| v.output(out, "jsonl").display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "/o/a.mp4.jsonl",
                "/o/a.mkv.jsonl",
                // Its stem is a.mp4, which a.mp4 keeping its extension takes.
                "/o/a.mp4.mkv.jsonl",
                // No clash: b.mp4 gives b.jsonl, b.mp4.mkv gives b.mp4.jsonl.
                "/o/b.jsonl",
                "/o/b.mp4.jsonl",
                // c.jsonl is a folder of the output tree.
                "/o/c.mp4.jsonl",
                "/o/c.jsonl/d.jsonl",
                // A chain: each switch makes the next one clash.
                "/o/e.mkv.jsonl",
                "/o/e.mp4.jsonl",
                "/o/e.mkv.webm.jsonl",
                "/o/e.mkv.webm.ts.jsonl",
            ]
        );
        let unique: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        // The same list in another order gives the same names.
        let mut reversed: Vec<PathBuf> = rels.map(PathBuf::from).to_vec();
        reversed.reverse();
        let mut again: Vec<Video> = plan(reversed);
        again.reverse();
        assert_eq!(again, videos);
    }

    #[test]
    fn shards_split_the_list_without_overlap() {
        assert_eq!(Shard::parse("1/3").unwrap(), Shard { index: 1, count: 3 });
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let items: Vec<usize> = (0..7).collect();
        let parts: Vec<Vec<usize>> = (0..3)
            .map(|k| Shard { index: k, count: 3 }.select(items.clone()))
            .collect();
        assert_eq!(parts, vec![vec![0, 3, 6], vec![1, 4], vec![2, 5]]);
    }
}
