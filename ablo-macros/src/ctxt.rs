//! [`Ctxt`]: collects every mistake found while reading one macro input, so
//! they are all reported together instead of one per compile.

use std::cell::RefCell;
use std::fmt::Display;

use quote::ToTokens;

/// The error collector threaded through parsing and checking. It must be
/// consumed with [`Ctxt::check`]; dropping it unchecked is a bug in the macro.
pub struct Ctxt {
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    pub fn new() -> Self {
        Ctxt {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records an error on the span of `tokens`.
    pub fn error_spanned_by<T: ToTokens, M: Display>(&self, tokens: T, message: M) {
        self.push(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// Records an error with a `help:` line under the message.
    pub fn error_with_hint<T: ToTokens, M: Display, H: Display>(
        &self,
        tokens: T,
        message: M,
        hint: H,
    ) {
        self.error_spanned_by(tokens, format!("{message}\nhelp: {hint}"));
    }

    /// Records an error that already carries its span.
    pub fn syn_error(&self, error: syn::Error) {
        self.push(error);
    }

    fn push(&self, error: syn::Error) {
        self.errors
            .borrow_mut()
            .as_mut()
            .expect("Ctxt used after check")
            .push(error);
    }

    /// Consumes the collector: `Ok` when nothing was recorded, otherwise one
    /// error combining all of them in the order they were found.
    pub fn check(self) -> syn::Result<()> {
        let errors = self.errors.borrow_mut().take().expect("Ctxt checked twice");
        let mut errors = errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("Ctxt dropped without check");
        }
    }
}
