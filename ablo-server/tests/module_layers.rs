//! The server library's module layering (`docs/architecture.md`): no import
//! cycle among the top-level modules of `src`, and only the edges and the
//! commit orchestration see the server's whole state.
//!
//! Each `.rs` file belongs to the top-level module of its path
//! (`src/coordination/board.rs` to `coordination`); `lib.rs` and `main.rs`
//! compose everything and are left out. A module depends on another when
//! its code, comments stripped, names `crate::other` or
//! `crate::{other, ...}`. Set `ABLO_LAYERS_SRC` to check another `src`
//! tree (an older checkout, say).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module -> the top-level modules it names.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The modules that may name `state` (the server's whole state): the HTTP
/// and WebSocket edges and the commit orchestration above the domain
/// services. Everything else gets the handles it uses passed in.
const MAY_USE_STATE: &[&str] = &["http", "ws", "pipeline"];

fn source_root() -> PathBuf {
    match std::env::var_os("ABLO_LAYERS_SRC") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
    }
}

#[test]
fn top_level_modules_import_no_cycle() {
    let graph = module_graph(&source_root());
    assert!(graph.len() > 10, "found only {:?}", graph.keys());
    let cycles = cycles(&graph);
    assert!(
        cycles.is_empty(),
        "import cycles among top-level modules (a lower layer must not import a higher one):\n{}",
        describe(&graph, &cycles)
    );
}

#[test]
fn only_the_edges_and_the_orchestration_see_the_whole_state() {
    let graph = module_graph(&source_root());
    let users: Vec<&String> = graph
        .iter()
        .filter(|(module, deps)| {
            deps.contains("state") && !MAY_USE_STATE.contains(&module.as_str())
        })
        .map(|(module, _)| module)
        .collect();
    assert!(
        users.is_empty(),
        "modules that import `state` though only {MAY_USE_STATE:?} may: {users:?}; \
         pass them the handles they use instead"
    );
}

#[test]
fn the_check_finds_a_cycle_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "mod a; mod b; mod c; mod d;");
    write("a.rs", "use crate::b::Thing;");
    write("b/mod.rs", "mod inner;");
    write(
        "b/inner.rs",
        "use crate::{c::One, d};\n// crate::a in a comment is no import\n",
    );
    write("c.rs", "fn f() -> crate::a::T { todo!() }");
    write("d.rs", "/* crate::a */ use crate::nothing_here;");
    let graph = module_graph(dir.path());
    assert_eq!(graph["b"], BTreeSet::from(["c".to_owned(), "d".to_owned()]));
    assert!(graph["d"].is_empty(), "{:?}", graph["d"]);
    let found = cycles(&graph);
    assert_eq!(
        found,
        vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]
    );
    let text = describe(&graph, &found);
    assert!(
        text.contains("[a, b, c]") && text.contains("c -> [a]"),
        "{text}"
    );
}

/// Reads every `.rs` file under `root`.
fn module_graph(root: &Path) -> Graph {
    let mut files = Vec::new();
    collect(root, &mut files);
    assert!(!files.is_empty(), "no Rust files under {}", root.display());
    let mut graph = Graph::new();
    for file in files {
        let relative = file.strip_prefix(root).unwrap();
        let first = relative.components().next().unwrap();
        let first = first.as_os_str().to_string_lossy();
        let module = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let names = crate_references(&strip_comments(&text));
        let deps = graph.entry(module.clone()).or_default();
        deps.extend(names.into_iter().filter(|name| *name != module));
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|dep| modules.contains(dep));
    }
    graph
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|err| panic!("reading {}: {err}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// The text without `//` comments (doc comments too) and `/* */` comments.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |end| &after[end..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |end| &after[end + 2..]);
            out.push(' ');
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The first segment after each `crate::`, and each first segment of a
/// `crate::{a, b::c}` group.
fn crate_references(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let preceded_by_ident = rest[..at].chars().next_back().is_some_and(is_ident);
        rest = &rest[at + "crate::".len()..];
        if preceded_by_ident {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut expect_name = true;
            let mut end = group.len();
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        end = i;
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => expect_name = true,
                    c if expect_name && is_ident(c) => {
                        let name: String =
                            group[i..].chars().take_while(|&c| is_ident(c)).collect();
                        names.insert(name);
                        expect_name = false;
                    }
                    c if c.is_whitespace() => {}
                    _ => expect_name = false,
                }
            }
            rest = &group[end..];
        } else {
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// Every strongly connected component of more than one module (Tarjan),
/// each sorted, in order of their first module.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Search<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Search<'g> {
        fn visit(&mut self, module: &'g str) {
            let n = self.index.len();
            self.index.insert(module, n);
            self.low.insert(module, n);
            self.stack.push(module);
            self.on_stack.insert(module);
            for dep in &self.graph[module] {
                let dep = dep.as_str();
                if !self.index.contains_key(dep) {
                    self.visit(dep);
                    let low = self.low[module].min(self.low[dep]);
                    self.low.insert(module, low);
                } else if self.on_stack.contains(dep) {
                    let low = self.low[module].min(self.index[dep]);
                    self.low.insert(module, low);
                }
            }
            if self.low[module] == self.index[module] {
                let mut component = Vec::new();
                loop {
                    let top = self.stack.pop().unwrap();
                    self.on_stack.remove(top);
                    component.push(top.to_owned());
                    if top == module {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut search = Search {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for module in graph.keys() {
        if !search.index.contains_key(module.as_str()) {
            search.visit(module);
        }
    }
    search.found.sort();
    search.found
}

/// Each cycle and, for each of its modules, the edges that stay inside it.
fn describe(graph: &Graph, cycles: &[Vec<String>]) -> String {
    let mut text = String::new();
    for cycle in cycles {
        text.push_str(&format!("CYCLE [{}]\n", cycle.join(", ")));
        for module in cycle {
            let inside: Vec<&str> = graph[module]
                .iter()
                .filter(|dep| cycle.contains(dep))
                .map(String::as_str)
                .collect();
            text.push_str(&format!("   {module} -> [{}]\n", inside.join(", ")));
        }
    }
    text
}
