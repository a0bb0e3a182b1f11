//! Shared helpers of Ablo's end-to-end tests (the tests live in `tests/`).
