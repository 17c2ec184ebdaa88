//! The library the lessons share (`src/`) stays small and mapped: issue
//! 20 asks for at most 1,500 lines, and a crate doc that names each module.

use crate::support::root;

/// The most lines `src/` may hold, unit tests and docs included.
const MAX_LINES: usize = 1500;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![the_library_is_at_most_1500_lines, the_crate_doc_maps_every_module,]
}

fn sources() -> Vec<(String, String)> {
    let dir = std::fs::read_dir(root().join("src")).unwrap();
    let mut sources: Vec<_> = dir
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    sources.sort();
    sources
}

fn the_library_is_at_most_1500_lines() {
    let counts: Vec<_> = sources()
        .into_iter()
        .map(|(name, text)| (name, text.lines().count()))
        .collect();
    let total: usize = counts.iter().map(|(_, lines)| lines).sum();
    assert!(total <= MAX_LINES, "src/ has {total} lines: {counts:?}");
}

fn the_crate_doc_maps_every_module() {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let doc: String = lib
        .lines()
        .filter_map(|line| line.strip_prefix("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    for (name, _) in sources().into_iter().filter(|(name, _)| name != "lib.rs")
    {
        let module = name.trim_end_matches(".rs");
        assert!(lib.contains(&format!("pub mod {module};")), "{module}");
        assert!(doc.contains(&format!("[`{module}`]")), "{module}");
    }
}
