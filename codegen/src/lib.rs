//! Ablo code generation: it will turn a schema descriptor into TypeScript,
//! one JSON Schema per model and an OpenAPI document, check generated files
//! for freshness and list breaking changes between two descriptors.
