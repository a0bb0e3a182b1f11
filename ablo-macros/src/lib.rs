//! Procedural macros of Ablo. Use them through the `ablo` crate:
//! `#[ablo::model]`, `#[derive(ablo::Enum)]`, `#[ablo::object]` and
//! `ablo::schema!`. This crate owns attribute parsing, schema checks and code
//! expansion, each in its own module.
