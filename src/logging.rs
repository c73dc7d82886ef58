//! Routes the library's log records (`tracing` events) to a sink the host program registers,
//! so dockerd can forward them to its own logger. Silent by default: until a sink is
//! registered no subscriber exists and disabled records cost one atomic load; the library
//! never writes to stdout.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Once};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

use crate::callback::CallbackSlot;

/// One log record as the sink sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub level: Level,
    pub target: String,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

/// The host's log sink.
pub type Sink = Arc<dyn Fn(&LogRecord) + Send + Sync>;

static SINK: CallbackSlot<dyn Fn(&LogRecord) + Send + Sync> = CallbackSlot::new();
static MAX_RANK: AtomicU8 = AtomicU8::new(0);
static INSTALL: Once = Once::new();
/// The target prefix of this crate's records.
const OWN_TARGET: &str = env!("CARGO_CRATE_NAME");

fn level_rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// Registers `sink` for records at `max_level` or more severe; `None` silences the library
/// again. Installs the library's subscriber as the process-wide default on first use (if the
/// host process already installed one, records go there instead and the sink sees none).
///
/// When it returns, the sink it replaced is not running on any thread and will not be called
/// again, so the host may free what that sink uses. Called from inside a sink callback it does
/// not wait (the callback would wait for itself, or two callbacks for each other): the old
/// sink is then not called again, but callbacks already running finish on their own.
pub fn set_sink(sink: Option<Sink>, max_level: Level) {
    let rank = if sink.is_some() { level_rank(&max_level) } else { 0 };
    MAX_RANK.store(rank, Ordering::SeqCst);
    SINK.replace(sink);
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(SinkLayer);
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            // The host's own subscriber stays in charge.
        }
    });
    tracing::callsite::rebuild_interest_cache();
}

struct SinkLayer;

impl SinkLayer {
    /// Only the library's own records at the registered level or more severe: its
    /// dependencies' (h2, tonic) are noise to the host.
    fn wants(metadata: &Metadata<'_>) -> bool {
        level_rank(metadata.level()) <= MAX_RANK.load(Ordering::Relaxed) && metadata.target().starts_with(OWN_TARGET)
    }
}

impl<S: Subscriber> Layer<S> for SinkLayer {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        // Decided once per callsite and cached by `tracing`: h2's many trace points on every
        // frame then cost nothing. `set_sink` rebuilds the cache when the level changes.
        if Self::wants(metadata) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        Self::wants(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match MAX_RANK.load(Ordering::Relaxed) {
            0 => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        // No library lock is held while the sink runs: it may take its time, log, or call the
        // library.
        SINK.call(|sink| {
            let mut visitor = FieldCollector::default();
            event.record(&mut visitor);
            let metadata = event.metadata();
            sink(&LogRecord {
                level: *metadata.level(),
                target: metadata.target().to_owned(),
                message: visitor.message,
                fields: visitor.fields,
            });
        });
    }
}

#[derive(Default)]
struct FieldCollector {
    message: String,
    fields: Vec<(String, String)>,
}

impl Visit for FieldCollector {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.fields.push((field.name().to_owned(), value.to_owned()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.fields.push((field.name().to_owned(), text));
        }
    }
}
