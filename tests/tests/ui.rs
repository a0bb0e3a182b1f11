//! Compile-time behaviour of the schema DSL: every mistake the macros catch
//! (one folder per kind of mistake under `tests/ui/`, each with the exact
//! compiler output in a `.stderr` file) and declarations that must compile.
//!
//! Regenerate the `.stderr` files after a deliberate change with
//! `TRYBUILD=overwrite cargo test -p ablo-tests --test ui`.

#[test]
fn schema_dsl_compile_errors() {
    let cases = trybuild::TestCases::new();
    for category in [
        "attr",
        "model",
        "field",
        "enum",
        "object",
        "sync_groups",
        "schema",
        "cascade",
        "query",
    ] {
        cases.compile_fail(format!("ui/{category}/*.rs"));
    }
    cases.pass("ui/pass/*.rs");
}
