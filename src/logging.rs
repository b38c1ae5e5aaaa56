//! Logging to stderr through `tracing`, with an allow-list of fields.
//!
//! Only the fields named in [`ALLOWED_FIELDS`] are printed; any other field is
//! replaced by `<redacted>`, so a careless `info!(phone = %n)` cannot put a number
//! in the log. Messages themselves must never carry content: the log-hygiene
//! tests run whole scenarios and grep the output.
//!
//! The filter keeps other crates at `warn` unless they are named explicitly;
//! naming them at a chattier level logs a warning, because their debug output
//! can hold SQL parameters and request data.

use std::fmt;
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::{Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

/// The span every provider webhook runs in. What is logged inside it carries
/// the time only to the hour, as the database keeps call and text times: the
/// log must not hold the exact time of every call and text.
pub const WEBHOOK_SPAN: &str = "webhook";

/// Field names that may appear in the log. Keep this list short and content-free.
pub const ALLOWED_FIELDS: &[&str] = &[
    "message",
    "route",
    "method",
    "status",
    "latency_ms",
    "startup_ms",
    "listen",
    "backend",
    "version",
    "migrations",
    "data_dir",
    "count",
    "error",
];

/// The parsed log filter: the level for quietline itself, and levels for other
/// crates named explicitly.
#[derive(Debug, Clone)]
pub struct Filter {
    own: LevelFilter,
    others: Vec<(String, LevelFilter)>,
}

impl Filter {
    fn targets(&self) -> Targets {
        let mut t = Targets::new().with_default(LevelFilter::WARN).with_target("quietline", self.own);
        for (target, level) in &self.others {
            t = t.with_target(target.clone(), *level);
        }
        t
    }

    /// Other crates turned up beyond `warn`, which may log sensitive data.
    fn noisy_targets(&self) -> Vec<&str> {
        self.others.iter().filter(|(_, level)| *level > LevelFilter::WARN).map(|(t, _)| t.as_str()).collect()
    }
}

/// Parses `info`, `debug`, or `quietline=debug,sqlx=warn`: a bare level applies to
/// quietline; other crates stay at `warn` unless named.
pub fn parse_filter(input: &str) -> Result<Filter, String> {
    let mut filter = Filter { own: LevelFilter::INFO, others: Vec::new() };
    for directive in input.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let (target, level) = match directive.split_once('=') {
            Some((t, l)) => (Some(t.trim()), l.trim()),
            None => (None, directive),
        };
        let level: LevelFilter =
            level.parse().map_err(|_| format!("{directive:?}: levels are off, error, warn, info, debug, trace"))?;
        match target {
            None | Some("quietline") => filter.own = level,
            Some(t) if t.is_empty() || t.contains(char::is_whitespace) => {
                return Err(format!("{directive:?} names no target"));
            }
            Some(t) => filter.others.push((t.to_string(), level)),
        }
    }
    Ok(filter)
}

/// Installs the global subscriber writing to stderr.
pub fn init(filter: &str) -> Result<(), String> {
    init_with_writer(filter, std::io::stderr, std::io::stderr().is_terminal())
}

/// Installs the global subscriber writing to `writer`: the same formatting and
/// filter as [`init`], for tests that scan what the server logs.
pub fn init_with_writer<W>(filter: &str, writer: W, ansi: bool) -> Result<(), String>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = parse_filter(filter)?;
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .fmt_fields(AllowListed)
        .event_format(Stamped)
        .with_filter(filter.targets());
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer)).map_err(|e| e.to_string())?;
    let noisy = filter.noisy_targets();
    if !noisy.is_empty() {
        tracing::warn!(
            "log filter turns up {}: their output may contain phone numbers, addresses or content",
            noisy.join(", ")
        );
    }
    Ok(())
}

/// The usual line, after a timestamp of our own: to the microsecond, except
/// inside a provider webhook, where it is rounded down to the hour.
struct Stamped;

impl<S, N> FormatEvent<S, N> for Stamped
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let webhook = ctx.event_scope().is_some_and(|mut scope| scope.any(|span| span.name() == WEBHOOK_SPAN));
        write!(writer, "{} ", crate::clock::rfc3339(std::time::SystemTime::now(), webhook))?;
        let ansi = writer.has_ansi_escapes();
        Format::default().without_time().with_ansi(ansi).format_event(ctx, writer, event)
    }
}

/// Formats only allow-listed fields.
struct AllowListed;

impl<'writer> FormatFields<'writer> for AllowListed {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = AllowListVisitor { writer: &mut writer, result: Ok(()), first: true };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct AllowListVisitor<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
    first: bool,
}

impl AllowListVisitor<'_, '_> {
    fn write(&mut self, field: &Field, value: &dyn fmt::Display) {
        if self.result.is_err() {
            return;
        }
        let sep = if self.first { "" } else { " " };
        self.first = false;
        let name = field.name();
        self.result = if name == "message" {
            write!(self.writer, "{sep}{value}")
        } else if ALLOWED_FIELDS.contains(&name) {
            write!(self.writer, "{sep}{name}={value}")
        } else {
            write!(self.writer, "{sep}{name}=<redacted>")
        };
    }
}

impl Visit for AllowListVisitor<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.write(field, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, &format_args!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_level_applies_to_quietline_only() {
        let f = parse_filter("debug").unwrap();
        assert_eq!(f.own, LevelFilter::DEBUG);
        assert!(f.noisy_targets().is_empty());
    }

    #[test]
    fn naming_a_dependency_above_warn_is_flagged() {
        let f = parse_filter("info, sqlx=debug, hyper=warn").unwrap();
        assert_eq!(f.noisy_targets(), ["sqlx"]);
    }

    #[test]
    fn bad_directives_are_refused() {
        for bad in ["loud", "quietline=loud", "=info", "a b=info"] {
            assert!(parse_filter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fields_outside_the_allow_list_are_redacted() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let sink = buf.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer().with_writer(move || sink.clone()).with_ansi(false).fmt_fields(AllowListed),
        );
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", route = "/healthz", caller = "+14155550123");
            let _g = span.enter();
            tracing::info!(status = 200, phone = "+14155550123", "request done");
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(out.contains("request done"), "{out}");
        assert!(out.contains("status=200"), "{out}");
        assert!(out.contains("route=/healthz"), "{out}");
        assert!(out.contains("phone=<redacted>"), "{out}");
        assert!(out.contains("caller=<redacted>"), "{out}");
        assert!(!out.contains("4155550123"), "{out}");
    }
}
