//! The client's log: every notable event goes to `tracing` (target
//! `ablo::client`) and, when one is set, to the application's own hook.

use std::fmt;
use std::sync::Arc;

/// Severity of a client log record.
///
/// ```
/// use ablo_runtime::client::LogLevel;
/// assert!(LogLevel::Warn > LogLevel::Info);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Request-level detail.
    Debug,
    /// Connection state changes.
    Info,
    /// Something failed and will be retried.
    Warn,
    /// Something failed for good.
    Error,
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        })
    }
}

type Hook = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// Where the client's log records go.
#[derive(Clone, Default)]
pub(crate) struct Logger {
    hook: Option<Hook>,
}

impl Logger {
    pub(crate) fn with_hook(hook: Hook) -> Self {
        Logger { hook: Some(hook) }
    }

    pub(crate) fn log(&self, level: LogLevel, message: &str) {
        match level {
            LogLevel::Debug => tracing::debug!(target: "ablo::client", "{message}"),
            LogLevel::Info => tracing::info!(target: "ablo::client", "{message}"),
            LogLevel::Warn => tracing::warn!(target: "ablo::client", "{message}"),
            LogLevel::Error => tracing::error!(target: "ablo::client", "{message}"),
        }
        if let Some(hook) = &self.hook {
            hook(level, message);
        }
    }

    pub(crate) fn debug(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Debug, message.as_ref());
    }

    pub(crate) fn info(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Info, message.as_ref());
    }

    pub(crate) fn warn(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Warn, message.as_ref());
    }

    pub(crate) fn error(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Error, message.as_ref());
    }
}
